"""The model server speaks the SageMaker Runtime API and the container contract.

Errors are what boto3 raises as ClientError, with messages that say what to do."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.sampling import seed_where

CHATML = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"


def body(prompt: str = "Hi", stream: bool = False, **parameters) -> bytes:
    return json.dumps({"inputs": CHATML.format(prompt), "parameters": parameters, "stream": stream}).encode()


def long_answer_seed(runtime_client, prompt: str, tokens: int = 60) -> int:
    """A seed whose sampled answer to `prompt` is proven to run past `tokens` tokens (see
    tests/sampling.py: a seed picked by hand does so on one build of llama.cpp only)."""

    def runs_long(seed: int) -> bool:
        payload = body(prompt, max_new_tokens=tokens, temperature=1.0, seed=seed, details=True)
        response = runtime_client.invoke_endpoint(EndpointName="smollm2-135m", Body=payload)
        return json.loads(response["Body"].read())[0]["details"]["finish_reason"] == "length"

    return seed_where(runs_long, f"an answer of {tokens}+ tokens to {prompt!r}", key=("raw", prompt, tokens))


def client_error(runtime_client, endpoint: str, payload: bytes) -> ClientError:
    with pytest.raises(ClientError) as error:
        runtime_client.invoke_endpoint(EndpointName=endpoint, Body=payload, ContentType="application/json")
    return error.value


def test_ping_answers_when_the_models_are_loaded(model_server_url: str):
    assert httpx.get(f"{model_server_url}/ping").status_code == 200


def test_invoke_endpoint_returns_tgis_response_shape(runtime_client):
    response = runtime_client.invoke_endpoint(
        EndpointName="smollm2-135m", Body=body(max_new_tokens=5, details=True), ContentType="application/json"
    )
    (result,) = json.loads(response["Body"].read())
    assert result["generated_text"]
    assert result["details"]["generated_tokens"] <= 5
    assert result["details"]["finish_reason"] in ("length", "eos_token")


def test_streaming_sends_payload_parts_of_tgi_events_and_ends_with_details(runtime_client):
    response = runtime_client.invoke_endpoint_with_response_stream(
        EndpointName="gemma3-270m", Body=body("Count to ten.", stream=True, max_new_tokens=8)
    )
    assert response["ContentType"] == "text/event-stream"
    lines = [event["PayloadPart"]["Bytes"] for event in response["Body"]]
    events = [json.loads(line.removeprefix(b"data:")) for line in lines]
    assert all(line.startswith(b"data:") and line.endswith(b"\n\n") for line in lines)
    assert [event["index"] for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["details"]["generated_tokens"] == len(events)
    assert events[-1]["generated_text"] == "".join(
        e["token"]["text"] for e in events if not e["token"]["special"]
    )


def test_an_unknown_endpoint_is_a_validation_error_listing_the_served_ones(runtime_client):
    error = client_error(runtime_client, "gpt-9", body())
    assert error.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint gpt-9 not found. This server serves: gemma3-270m, smollm2-135m." in str(error)


def test_invalid_json_is_a_model_error_carrying_the_containers_422(runtime_client):
    error = client_error(runtime_client, "smollm2-135m", b"{not json")
    assert error.response["Error"]["Code"] == "ModelError"
    assert error.response["OriginalStatusCode"] == 422
    assert "Failed to parse the request body as JSON" in error.response["OriginalMessage"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"top_p": 1.0}, "`parameters.top_p`: Input should be less than 1"),
        ({"temperature": 0}, "`parameters.temperature`: Input should be greater than 0"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "`parameters.stop`: List should have at most 4 items"),
        ({"max_new_tokens": 0}, "`parameters.max_new_tokens`: Input should be greater than or equal to 1"),
    ],
)
def test_parameters_out_of_tgis_bounds_are_refused(runtime_client, parameters: dict, message: str):
    error = client_error(runtime_client, "smollm2-135m", body(**parameters))
    assert error.response["OriginalStatusCode"] == 422
    assert message in error.response["OriginalMessage"]


def test_a_prompt_longer_than_the_context_window_is_refused(runtime_client):
    error = client_error(runtime_client, "smollm2-135m", body("word " * 1900, max_new_tokens=200))
    assert "`inputs` tokens + `max_new_tokens` must be <= 2048" in error.response["OriginalMessage"]


def test_the_container_contract_streams_server_sent_events_when_asked(model_server_url: str):
    headers = {"X-Amzn-SageMaker-Target-Model": "smollm2-135m"}
    with httpx.stream(
        "POST",
        f"{model_server_url}/invocations",
        content=body(stream=True, max_new_tokens=4),
        headers=headers,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert 1 <= len(lines) <= 4
    assert json.loads(lines[-1].removeprefix("data:"))["details"]["generated_tokens"] == len(lines)


def test_the_container_contract_needs_a_target_model_when_serving_several(model_server_url: str):
    response = httpx.post(f"{model_server_url}/invocations", content=body())
    assert response.status_code == 400
    assert "X-Amzn-SageMaker-Target-Model" in response.json()["error"]


def test_a_client_that_disconnects_stops_decoding(model_server_url: str, runtime_client):
    seed = long_answer_seed(runtime_client, "Tell a long story.")

    def counters() -> dict:
        return httpx.get(f"{model_server_url}/metrics").json()["smollm2-135m"]

    before = counters()
    url = f"{model_server_url}/endpoints/smollm2-135m/invocations-response-stream"
    with httpx.stream(
        "POST",
        url,
        content=body("Tell a long story.", stream=True, max_new_tokens=1000, temperature=1.0, seed=seed),
    ) as response:
        for _ in zip(range(3), response.iter_bytes(), strict=False):
            pass
    # The connection is closed here; give the server a moment to notice.
    for _ in range(50):
        if counters()["cancelled"] == before["cancelled"] + 1:
            break
        threading.Event().wait(0.1)
    after = counters()
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["tokens_generated"] - before["tokens_generated"] < 30
