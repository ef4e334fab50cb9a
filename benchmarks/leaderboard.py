"""GET /leaderboard with 100,000 arena votes: the cached fit against fitting on every request.

Votes between 8 models of known strength (with answer lengths, speeds and a few users who vote
too often) go into a real Postgres store; the real chat API serves GET /leaderboard from its
cached fit, timed over many requests after the first fit. The peer, in the same run: the
uncached fit (read every vote and fit, as GET did before), timed in this process on the same
store. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.chat.records import AnswerFigures, Vote
from chatbot.chat.votes import Votes
from chatbot.models.catalog import load_catalog
from chatbot.postgres import ConnectionPool, create_database, temporary_server
from lambdas.chat_api.auth import LocalTokens, local_secret
from launcher.processes import free_port
from tests.servers import chat_api_server

TARGET_P95_MS = 200.0
STRENGTHS = {f"model-{index}": 0.25 * index for index in range(8)}


def synthetic_votes(count: int, seed: int = 7) -> list[Vote]:
    """Two-pane arena votes: the stronger model wins more often; longer answers a little more."""
    rng = np.random.default_rng(seed)
    models = list(STRENGTHS)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    votes = []
    for index in range(count):
        eager = index % 50 == 0  # one user votes on one match-up far too often: capped per day
        a, b = (0, 1) if eager else rng.choice(len(models), 2, replace=False)
        chars = rng.integers(50, 1500, 2)
        logit = STRENGTHS[models[a]] - STRENGTHS[models[b]] + 0.5 * (chars[0] - chars[1]) / chars.sum()
        draw = rng.random()
        choice = "tie" if draw < 0.1 else ("left" if rng.random() < 1 / (1 + np.exp(-logit)) else "right")
        votes.append(
            Vote(
                session_id=f"bench-{index}",
                round=1,
                user_id="eager-user" if eager else f"user-{rng.integers(0, 2000)}",
                choice=choice,
                models=[models[a], models[b]],
                lanes=["a", "b"],
                anonymous=True,
                answers=[
                    AnswerFigures(
                        chars=int(chars[i]),
                        ttft_ms=float(rng.gamma(4, 40)),
                        tokens_per_s=float(rng.normal(60, 8)),
                    )
                    for i in range(2)
                ],
                created_at=start + timedelta(seconds=int(rng.integers(0, 86400 if eager else 30 * 86400))),
            )
        )
    return votes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--uncached-runs", type=int, default=3)
    args = parser.parse_args()

    with temporary_server() as pg:
        url = create_database(pg, "bench_leaderboard")
        store = PostgresHistoryStore(ConnectionPool(url, max_connections=2))
        store.add_votes(synthetic_votes(args.votes))
        catalog = load_catalog("models.yaml")

        uncached_ms = []
        for _ in range(args.uncached_runs):
            started = time.perf_counter()
            Votes(store, catalog).fresh_leaderboard()
            uncached_ms.append((time.perf_counter() - started) * 1000)

        secret_file = Path(".data/benchmark-secret")
        env = {
            "CHATBOT_MODELS_FILE": "models.yaml",
            "SAGEMAKER_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",  # no model is called
            "DATABASE_URL": url,
            "CHATBOT_LOCAL_SECRET_FILE": str(secret_file),
            # No users file: the API takes any token of the secret (not the developer's accounts).
            "CHATBOT_USERS_FILE": str(Path(secret_file).with_name("benchmark-no-users.yaml")),
            "CHATBOT_DOCUMENTS": "off",
        }
        token = LocalTokens(local_secret(secret_file)).issue("bench")
        with (
            chat_api_server(env) as api_url,
            httpx.Client(
                base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=600
            ) as client,
        ):
            started = time.perf_counter()
            first = client.get("/leaderboard")
            first.raise_for_status()
            first_ms = (time.perf_counter() - started) * 1000
            timings = []
            for _ in range(args.requests):
                started = time.perf_counter()
                client.get("/leaderboard").raise_for_status()
                timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    board = first.json()
    print(
        json.dumps(
            {
                "benchmark": "leaderboard",
                "votes": args.votes,
                "models": len(board["ratings"]),
                "counted_votes": board["votes"],
                "voided_votes": board["voided"],
                "cached_get_p95_ms": round(p95, 1),
                "cached_get_median_ms": round(statistics.median(timings), 1),
                "first_get_ms": round(first_ms, 1),
                "uncached_fit_median_ms": round(statistics.median(uncached_ms), 1),
                "uncached_over_cached_p95": round(statistics.median(uncached_ms) / p95, 1),
                "target_p95_ms": TARGET_P95_MS,
                "meets_target": p95 <= TARGET_P95_MS,
            }
        )
    )


if __name__ == "__main__":
    main()
