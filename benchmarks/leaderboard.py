"""The leaderboard fitted from the arena's counters at 1,000,000 votes, against the full refit.

The counters that a million two-pane votes over 16 models would leave are written straight into
a real Postgres store; the chat API's fit (one read of the counters, Bradley-Terry raw and
style-controlled with their bootstrap) is timed (median of 5) and its peak memory taken in one
more run (tracemalloc: Python and numpy allocations). Then GET /leaderboard as an instance
serves it, from the stored fit: cold (the first request of a new process, p95 over several
processes) and warm (p95 over many requests), and the store calls one refit makes. The peer, in
the same run: the full refit, which reads every vote and fits them, at 100,000 votes. Prints one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatbot.api.records import AnswerFigures, Vote
from chatbot.chat.cells import OUTCOMES, CounterKey, speed_bucket
from chatbot.chat.leaderboard import build_leaderboard
from chatbot.chat.postgres_store import PostgresHistoryStore, add_counters
from chatbot.chat.ratings import STYLE_STEPS
from chatbot.chat.vote_rules import VoteRules
from chatbot.chat.votes import Votes
from chatbot.models.catalog import load_catalog
from chatbot.postgres import ConnectionPool, create_database, temporary_server

TARGET_FIT_S = 1.0
TARGET_PEAK_MB = 200.0
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


#: How the benchmark's prompts spread over the categories (chatbot/chat/style.py).
CATEGORY_SHARES = {
    "general": 0.35,
    "code": 0.2,
    "instructions": 0.15,
    "creative_writing": 0.1,
    "maths": 0.1,
    "hard": 0.1,
}


def markdown_steps(rng: np.random.Generator, count: int) -> np.ndarray:
    """Steps of one markdown covariate's normalised difference (STYLE_STEPS[1]): its normalised
    difference spread over -1..1, half the battles with no markdown on either side (0)."""
    difference = np.where(rng.random(count) < 0.5, 0.0, rng.uniform(-1, 1, count))
    return np.round(difference / STYLE_STEPS[1]).astype(int)


def seed_cells(store: PostgresHistoryStore, count: int, models: int = 16, seed: int = 11) -> int:
    """The counters `count` two-pane votes would leave, written straight into the store (casting
    a million votes one by one takes many minutes): each in a category, with a length and three
    markdown differences. Returns how many cells were written (each key: a pair of models, a
    category and four style steps; its wins, losses and ties)."""
    rng = np.random.default_rng(seed)
    strength = np.linspace(0.0, 2.0, models)
    names = [f"model-{index:02d}" for index in range(models)]
    first = rng.integers(0, models, count)
    second = (first + rng.integers(1, models, count)) % models
    swap = second < first
    first, second = np.where(swap, second, first), np.where(swap, first, second)
    length = np.round(rng.normal(0, 0.3, count).clip(-1, 1) / STYLE_STEPS[0]).astype(int)
    markdown = np.stack([markdown_steps(rng, count) for _ in range(3)], axis=1)
    categories = list(CATEGORY_SHARES)
    category = rng.choice(len(categories), count, p=list(CATEGORY_SHARES.values()))
    style = length * STYLE_STEPS[0] + 0.2 * markdown @ STYLE_STEPS[1:]
    p = 1 / (1 + np.exp(-(strength[first] - strength[second] + 0.5 * style)))
    draw = rng.random(count)
    outcome = np.where(draw < 0.1, 2, np.where(rng.random(count) < p, 0, 1))  # OUTCOMES index
    keys = np.column_stack([first, second, category, length, markdown, outcome])
    unique, n = np.unique(keys, axis=0, return_counts=True)
    counters: Counter[CounterKey] = Counter()
    for (a, b, c, *steps, o), cell_count in zip(unique.tolist(), n.tolist(), strict=True):
        counters[("cell", names[a], names[b], categories[c], *steps, OUTCOMES[o])] = cell_count
    counters[("counted",)] = count
    for index, name in enumerate(names):
        counters[("model_votes", name)] = int((first == index).sum() + (second == index).sum())
        for figure, centre in (("ttft_ms", 160.0), ("tokens_per_s", 60.0)):
            for offset in range(-30, 31):
                counters[(figure, name, speed_bucket(centre) + offset)] = 1000 - 30 * abs(offset)
    with store._pool.transaction() as conn, conn.cursor() as cur:
        add_counters(cur, counters)
    return len(np.unique(unique[:, :-1], axis=0))


def timed(fit: Callable[[], object], runs: int = 1) -> tuple[float, float]:
    """(median seconds of `runs` calls, peak MB of Python allocations of one more). The time is
    taken without tracemalloc, which slows every Python allocation several fold."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        fit()
        seconds.append(time.perf_counter() - started)
    tracemalloc.start()
    fit()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return float(np.median(seconds)), peak


TARGET_GET_P95_MS = 200.0
COLD_PROCESSES = 5
WARM_REQUESTS = 200


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def first_request_ms(database_url: str) -> float:
    """In this (new) process: the chat API's leaderboard service on the store, then its first
    GET /leaderboard (the service is built at start-up, before requests)."""
    store = PostgresHistoryStore(ConnectionPool(database_url, max_connections=2))
    votes = Votes(store, load_catalog("models.yaml"))
    started = time.perf_counter()
    votes.leaderboard()
    return (time.perf_counter() - started) * 1000


def cold_p95_ms(database_url: str) -> float:
    times = []
    for _ in range(COLD_PROCESSES):
        out = subprocess.run(
            [sys.executable, __file__, "--first-request", database_url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return p95(times)


def warm_p95_ms(votes: Votes) -> float:
    times = []
    for _ in range(WARM_REQUESTS):
        started = time.perf_counter()
        votes.leaderboard()
        times.append((time.perf_counter() - started) * 1000)
    return p95(times)


class CallCounter:
    """Counts the store calls made through it (reads and writes by method)."""

    def __init__(self, store: PostgresHistoryStore):
        self._store = store
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str):
        method = getattr(self._store, name)

        def counted(*args, **kwargs):
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--peer-votes", type=int, default=100_000)
    parser.add_argument("--first-request", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_request:
        print(first_request_ms(args.first_request))
        return

    catalog = load_catalog("models.yaml")
    with temporary_server() as pg:
        cells_url = create_database(pg, "bench_cells")
        cells_store = PostgresHistoryStore(ConnectionPool(cells_url, max_connections=2))
        cells = seed_cells(cells_store, args.votes)
        fit_s, fit_peak_mb = timed(Votes(cells_store, catalog).fresh_leaderboard, runs=5)
        categories_s, _ = timed(Votes(cells_store, catalog).fresh_category_boards, runs=1)
        # What a refit runs: the board of every vote and each category's, from one read.
        refit_s, refit_peak_mb = timed(Votes(cells_store, catalog).fresh_boards, runs=3)
        counting = CallCounter(cells_store)
        Votes(counting, catalog).refit()
        cold_ms = cold_p95_ms(cells_url)
        warm_ms = warm_p95_ms(Votes(cells_store, catalog))

        peer_store = PostgresHistoryStore(
            ConnectionPool(create_database(pg, "bench_peer"), max_connections=2)
        )
        peer_store.add_votes(synthetic_votes(args.peer_votes))
        # The full refit: read every vote, judge, tally and fit them (the fit itself is this
        # release's: the previous one's vote-level fit is in tests/chatbot/chat/test_cells.py).
        peer_s, peer_peak_mb = timed(
            lambda: build_leaderboard(peer_store.list_votes(anonymous_only=True), rules=VoteRules())
        )
    print(
        json.dumps(
            {
                "benchmark": "leaderboard",
                "votes": args.votes,
                "cells": cells,
                "cell_key": "(model_a, model_b, category, length step, headers step, lists step, bold step)",
                "category_boards_fit_s": round(categories_s, 3),
                "refit_all_boards_s": round(refit_s, 3),
                "refit_all_boards_peak_mb": round(refit_peak_mb, 1),
                "fit_s": round(fit_s, 3),
                "fit_peak_mb": round(fit_peak_mb, 1),
                "target_fit_s": TARGET_FIT_S,
                "target_peak_mb": TARGET_PEAK_MB,
                "meets_target": fit_s <= TARGET_FIT_S
                and fit_peak_mb <= TARGET_PEAK_MB
                and cold_ms <= TARGET_GET_P95_MS,
                "peer": "full refit: read every stored vote, tally and fit it (what every GET /leaderboard refit did)",
                "peer_votes": args.peer_votes,
                "peer_fit_s": round(peer_s, 3),
                "peer_fit_peak_mb": round(peer_peak_mb, 1),
                "peer_ratio": round(peer_s / fit_s, 1),
                "cold_get_p95_ms": round(cold_ms, 1),
                "warm_get_p95_ms": round(warm_ms, 3),
                "target_get_p95_ms": TARGET_GET_P95_MS,
                "store_calls_per_refit": dict(counting.calls),
                "store_reads_per_refit": counting.calls["arena_counts"] + counting.calls["stored_fit"],
            }
        )
    )


if __name__ == "__main__":
    main()
