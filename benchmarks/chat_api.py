"""What the chat API path costs, and whether 16 concurrent chats all complete with nothing lost.

Same model, prompt, parameters and seed on both paths, interleaved run by run:
- direct: the model layer (`Endpoint.stream`) -> boto3 -> model server;
- API: HTTP POST /chat -> ChatService (history writes in Postgres) -> the same path.

Then 16 users chat at once against both local models through the API (the model server batches
each model's chats: mean sequences per decode step). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatbot.api.local_tokens import local_secret
from chatbot.models.catalog import load_catalog
from chatbot.models.clients import sagemaker_runtime_client
from chatbot.models.endpoints import Endpoint, SageMakerEndpoint
from chatbot.models.events import TokenEvent
from chatbot.postgres import create_database, temporary_server
from lambdas.chat_api.auth import LocalTokens
from launcher.stack import chat_api_settings
from tests.servers import chat_api_server, model_server

MODEL = "smollm2-135m"
PARAMS = {"max_new_tokens": 128, "temperature": 0.7, "seed": 11}
QUESTIONS = [
    "Tell me about the sea.",
    "Describe a forest.",
    "Explain how rain forms.",
    "Write about a city at night.",
]


def decode_rate(started: float, token_times: list[float]) -> tuple[float, float]:
    """(tokens/s after the first token, time to first token in ms)."""
    ttft_ms = (token_times[0] - started) * 1000
    rate = (len(token_times) - 1) / (token_times[-1] - token_times[0]) if len(token_times) > 1 else 0.0
    return rate, ttft_ms


def direct(endpoint: Endpoint, question: str) -> tuple[float, float]:
    params = endpoint.spec.resolve_parameters(PARAMS)
    started = time.perf_counter()
    prompt = endpoint.fit_prompt([], question, params).prompt
    times = [
        time.perf_counter() for event in endpoint.stream(prompt, params) if isinstance(event, TokenEvent)
    ]
    return decode_rate(started, times)


def through_api(client: httpx.Client, question: str, model: str = MODEL) -> tuple[float, float, str]:
    started = time.perf_counter()
    times, session_id = [], ""
    with client.stream(
        "POST", "/chat", json={"model": model, "message": question, "parameters": PARAMS}
    ) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            event = json.loads(line)
            if event["type"] == "session":
                session_id = event["session_id"]
            elif event["type"] == "token":
                times.append(time.perf_counter())
    rate, ttft_ms = decode_rate(started, times)
    return rate, ttft_ms, session_id


def concurrent_chats(api_url: str, tokens: LocalTokens, count: int) -> dict:
    results: list[tuple[str, float, str] | None] = [None] * count

    def one(index: int) -> None:
        user = f"bench-user-{index}"
        headers = {"Authorization": f"Bearer {tokens.issue(user)}"}
        with httpx.Client(base_url=api_url, headers=headers, timeout=600) as client:
            model = ("smollm2-135m", "gemma3-270m")[index % 2]
            _, ttft_ms, session_id = through_api(client, QUESTIONS[index % len(QUESTIONS)], model)
            results[index] = (user, ttft_ms, session_id)

    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    completed = [result for result in results if result is not None]
    lost = 0
    for user, _, session_id in completed:
        headers = {"Authorization": f"Bearer {tokens.issue(user)}"}
        messages = httpx.get(f"{api_url}/sessions/{session_id}", headers=headers).json()["messages"]
        lost += 2 - sum(1 for m in messages if m["content"] and m["status"] == "complete")
    ttfts = sorted(ttft for _, ttft, _ in completed)
    return {
        "concurrent_sessions": count,
        "completed": len(completed),
        "lost_messages": lost + 2 * (count - len(completed)),
        "p95_ttft_ms": round(ttfts[max(0, int(len(ttfts) * 0.95) - 1)], 1) if ttfts else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--concurrent", type=int, default=16)
    args = parser.parse_args()

    spec = load_catalog("models.yaml").get(MODEL)
    secret_file = Path(".data/benchmark-secret")
    tokens = LocalTokens(local_secret(secret_file))
    # Each model's 8 chats decode together in its slots; none waits in the queue.
    with temporary_server() as pg, model_server() as model_url:
        settings = chat_api_settings(
            model_url,
            create_database(pg, "bench"),
            local_secret_file=secret_file.resolve(),
            # No users file: the API takes any token of the secret (not the developer's accounts).
            local_users_file=secret_file.resolve().with_name("benchmark-no-users.yaml"),
        )
        with chat_api_server(settings.to_env()) as api_url:
            endpoint = SageMakerEndpoint(spec, sagemaker_runtime_client(endpoint_url=model_url))
            headers = {"Authorization": f"Bearer {tokens.issue('bench')}"}
            results: dict[str, list[tuple[float, float]]] = {"direct": [], "api": []}
            with httpx.Client(base_url=api_url, headers=headers, timeout=300) as client:
                for run in range(-1, args.runs):  # run -1 warms both paths up
                    # Each path gets its own question, so neither finds the other's prompt in the
                    # model server's cache, and they take turns going first: the second of a pair
                    # shares a longer prompt prefix with the first.
                    question = QUESTIONS[run % len(QUESTIONS)]
                    paths = {
                        "direct": lambda q=f"{question} (#{run}d)": direct(endpoint, q),
                        "api": lambda q=f"{question} (#{run}a)": through_api(client, q)[:2],
                    }
                    order = ["direct", "api"] if run % 2 else ["api", "direct"]
                    figures = {name: paths[name]() for name in order}
                    if run >= 0:
                        for name, value in figures.items():
                            results[name].append(value)
            before = httpx.get(f"{model_url}/metrics").json()
            concurrency = concurrent_chats(api_url, tokens, args.concurrent)
            after = httpx.get(f"{model_url}/metrics").json()
            # The model server decodes each model's chats together: tokens per decode step.
            concurrency["model_slots"] = after[MODEL]["slots"]
            concurrency["mean_batch_size"] = {
                name: round(
                    (after[name]["tokens_generated"] - before[name]["tokens_generated"])
                    / max(1, after[name]["decode_steps"] - before[name]["decode_steps"]),
                    2,
                )
                for name in after
            }

    def median(name: str, index: int) -> float:
        return statistics.median(value[index] for value in results[name])

    print(
        json.dumps(
            {
                "model": MODEL,
                "runs": args.runs,
                "tokens_per_s_direct": round(median("direct", 0), 1),
                "tokens_per_s_api": round(median("api", 0), 1),
                "tokens_per_s_ratio_vs_direct": round(median("api", 0) / median("direct", 0), 3),
                "ttft_ms_direct": round(median("direct", 1), 1),
                "ttft_ms_api": round(median("api", 1), 1),
                "ttft_overhead_ms": round(median("api", 1) - median("direct", 1), 1),
                **concurrency,
            }
        )
    )


if __name__ == "__main__":
    main()
