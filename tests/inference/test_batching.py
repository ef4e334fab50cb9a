"""Requests to one model decode together (continuous batching), each as if it ran alone.

These run against the real model server and real models; a test that needs a long answer finds
a seed proven to give one (tests/sampling.py). The counters on /metrics are how a test sees what
the engine did step by step."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from botocore.exceptions import ClientError

from chatbot.models.clients import sagemaker_runtime_client
from tests.sampling import seed_where
from tests.servers import model_server

CHATML = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
GEMMA = "<start_of_turn>user\n{}<end_of_turn>\n<start_of_turn>model\n"
TEMPLATES = {"smollm2-135m": CHATML, "gemma3-270m": GEMMA}
LONG = {"temperature": 1.0}
TOPICS = ["the sea", "a lighthouse", "a clockmaker", "the moon", "a lost key", "rain", "a forest", "a city"]


def counters(url: str, model: str = "smollm2-135m") -> dict:
    return httpx.get(f"{url}/metrics").json()[model]


def generate(url: str, model: str, message: str, **parameters) -> dict:
    """One blocking request; returns the TGI result (text and details)."""
    body = {"inputs": TEMPLATES[model].format(message), "parameters": {"details": True, **parameters}}
    response = httpx.post(f"{url}/endpoints/{model}/invocations", json=body, timeout=300)
    response.raise_for_status()
    (result,) = response.json()
    return result


def long_seed(url: str, message: str, tokens: int) -> int:
    """A seed whose SmolLM2 answer to `message` is proven to run past `tokens` tokens, so a
    stream is still running when a test acts on it (tests/sampling.py says why not by hand)."""

    def runs_long(seed: int) -> bool:
        result = generate(url, "smollm2-135m", message, max_new_tokens=tokens, seed=seed, **LONG)
        return result["details"]["finish_reason"] == "length"

    return seed_where(
        runs_long, f"an answer of {tokens}+ tokens to {message!r}", key=("batching", message, tokens)
    )


def at_once(*calls: Callable[[], dict]) -> list[dict]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def long_stories(url: str, count: int, tokens: int) -> list[dict]:
    """`count` requests at once, each proven to run `tokens` tokens when alone."""
    seed = long_seed(url, "Tell a long story.", tokens)

    def story() -> dict:
        return generate(url, "smollm2-135m", "Tell a long story.", max_new_tokens=tokens, seed=seed, **LONG)

    return at_once(*[story] * count)


def test_two_requests_to_one_model_decode_in_the_same_step(model_server_url: str):
    long_seed(model_server_url, "Tell a long story.", 40)  # found before the counters are read
    before = counters(model_server_url)
    results = long_stories(model_server_url, 2, 40)
    after = counters(model_server_url)
    tokens = after["tokens_generated"] - before["tokens_generated"]
    steps = after["decode_steps"] - before["decode_steps"]
    assert tokens == sum(result["details"]["generated_tokens"] for result in results)
    # Every token comes out of some step: fewer steps than tokens means steps held both.
    assert steps < tokens
    assert after["max_batch_size"] >= 2
    assert after["slots"] >= 2  # sized for the machine: tests/inference/test_slots.py


# SmolLM2 only: its logits are bit-identical alone and in any batch (checked token by token).
# Gemma 3's are not once 4 or more sequences decode together: llama.cpp's CPU kernels pick other
# code paths for other batch shapes (its q4_K weights repacked for AVX2 go through a 4-row GEMM;
# without repacking the difference moves to 8 rows), and llama.cpp does not promise bit-identical
# logits across batch sizes. Each sequence still samples with its own seeded sampler.
@pytest.mark.parametrize("model", ["smollm2-135m"])
def test_the_same_seed_and_prompt_give_the_same_text_alone_and_in_a_batch_of_8(
    model_server_url: str, model: str
):
    sampled = {"max_new_tokens": 48, "temperature": 0.8, "top_p": 0.9, "repetition_penalty": 1.15}
    alone = generate(model_server_url, model, "Describe a storm.", seed=7, **sampled)
    before = counters(model_server_url, model)
    batch = at_once(
        lambda: generate(model_server_url, model, "Describe a storm.", seed=7, **sampled),
        *(
            lambda topic=topic: generate(model_server_url, model, f"Write about {topic}.", seed=3, **sampled)
            for topic in TOPICS[:7]
        ),
    )
    after = counters(model_server_url, model)
    assert batch[0]["generated_text"] == alone["generated_text"]
    assert batch[0]["details"]["generated_tokens"] == alone["details"]["generated_tokens"]
    assert (
        after["decode_steps"] - before["decode_steps"]
        < after["tokens_generated"] - before["tokens_generated"]
    )


def test_a_disconnect_ends_that_sequence_within_a_few_tokens_while_the_others_finish(model_server_url: str):
    url = f"{model_server_url}/endpoints/smollm2-135m/invocations-response-stream"
    seed = long_seed(model_server_url, "Tell a long story.", 60)
    before = counters(model_server_url)
    body = {
        "inputs": CHATML.format("Tell a long story."),
        "stream": True,
        "parameters": {"max_new_tokens": 1000, "seed": seed, **LONG},
    }

    with ThreadPoolExecutor(1) as pool:
        with httpx.stream("POST", url, json=body, timeout=60) as response:
            chunks = response.iter_bytes()
            for _ in range(3):
                next(chunks)
            # They join the batch while this one decodes (its first 60 tokens are theirs).
            finishing = pool.submit(long_stories, model_server_url, 2, 60)
            for _ in range(3):
                next(chunks)
        # The connection is closed here.
        results = finishing.result()
    assert [result["details"]["finish_reason"] for result in results] == ["length", "length"]
    after = counters(model_server_url)
    assert after["cancelled"] == before["cancelled"] + 1
    cancelled_tokens = after["tokens_generated"] - before["tokens_generated"] - 120
    assert cancelled_tokens < 60


def test_requests_beyond_the_slots_wait_and_only_a_full_queue_answers_429(model_server_url: str):
    # The same model and build: the draw proven on the shared server is the draw here. Proven to
    # the 400 tokens asked for: the two running answers must not end before the checks are done.
    seed = long_seed(model_server_url, "Write a long poem.", 400)
    with model_server("--only", "smollm2-135m", "--slots", "2", "--max-queue", "1") as url:
        client = sagemaker_runtime_client(endpoint_url=url, max_attempts=1)
        long_answer = json.dumps(
            {
                "inputs": CHATML.format("Write a long poem."),
                "stream": True,
                "parameters": {"max_new_tokens": 400, "seed": seed, **LONG},
            }
        ).encode()
        # Two requests decode and one waits behind them: every place is taken.
        streams = [
            client.invoke_endpoint_with_response_stream(EndpointName="smollm2-135m", Body=long_answer)["Body"]
            for _ in range(3)
        ]
        try:
            busy = counters(url)
            for _ in range(100):  # the worker admits new jobs at its next step
                if busy["running"] == 2:
                    break
                threading.Event().wait(0.05)
                busy = counters(url)
            assert (busy["running"], busy["queued"]) == (2, 1)
            with pytest.raises(ClientError) as error:
                client.invoke_endpoint(EndpointName="smollm2-135m", Body=b'{"inputs": "Hi"}')
            assert error.value.response["Error"]["Code"] == "ThrottlingException"
            assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            assert "This model is busy: 1 requests are already waiting. Try again shortly." in str(
                error.value
            )
        finally:
            for stream in streams:
                stream.close()
        assert counters(url)["rejected_queue_full"] == 1


def test_a_prompt_longer_than_the_context_window_is_refused_and_the_batch_goes_on(model_server_url: str):
    sampled = {"max_new_tokens": 40, "temperature": 0.8, "seed": 5}
    alone = [
        generate(model_server_url, "smollm2-135m", f"Write about {topic}.", **sampled) for topic in TOPICS[:2]
    ]

    def too_long() -> dict:
        body = {"inputs": CHATML.format("word " * 2100), "parameters": {"max_new_tokens": 10}}
        response = httpx.post(f"{model_server_url}/endpoints/smollm2-135m/invocations", json=body, timeout=60)
        return {"status": response.status_code, **response.json()}

    *batch, refused = at_once(
        *(
            lambda topic=topic: generate(model_server_url, "smollm2-135m", f"Write about {topic}.", **sampled)
            for topic in TOPICS[:2]
        ),
        too_long,
    )
    assert refused["status"] == 424
    assert refused["OriginalStatusCode"] == 422
    assert "`inputs` tokens + `max_new_tokens` must be <= 2048" in refused["OriginalMessage"]
    assert [result["generated_text"] for result in batch] == [result["generated_text"] for result in alone]


def test_a_conversations_next_turn_reuses_the_cached_prompt_of_the_previous_one(model_server_url: str):
    first_prompt = CHATML.format("Name three rivers.")
    first = generate(model_server_url, "smollm2-135m", "Name three rivers.", max_new_tokens=20, seed=2)
    before = counters(model_server_url)
    second_prompt = (
        first_prompt + first["generated_text"] + "<|im_end|>\n" + CHATML.format("And three lakes?")
    )
    body = {"inputs": second_prompt, "parameters": {"max_new_tokens": 5, "details": True}}
    response = httpx.post(f"{model_server_url}/endpoints/smollm2-135m/invocations", json=body, timeout=60)
    (second,) = response.json()
    after = counters(model_server_url)
    cached = after["prompt_tokens_cached"] - before["prompt_tokens_cached"]
    processed = after["prompt_tokens_processed"] - before["prompt_tokens_processed"]
    assert cached >= first["details"]["input_length"]
    assert cached + processed == second["details"]["input_length"]
