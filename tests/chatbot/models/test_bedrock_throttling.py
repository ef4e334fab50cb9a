"""Bedrock throttling: a new account's on-demand quotas are a few requests a minute. A throttled
call is tried again with backoff and jitter within the answer's time budget; past it, the user
reads that the model is busy and when to try again, never a bare error. boto3's real
bedrock-runtime client answers through botocore's Stubber (real error shapes); the waits go to a
recorder instead of the clock, so nothing here is timed."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from chatbot.models.bedrock import MAX_BACKOFF_S, BedrockEndpoint
from chatbot.models.events import DoneEvent, ErrorEvent, TokenEvent
from chatbot.models.spec import ModelSpec

SPEC = ModelSpec.model_validate(
    {
        "name": "nova-lite",
        "model_id": "amazon.nova-lite-v1:0",
        "context_window": 300_000,
        "streaming": "none",
        "deployment": {"kind": "bedrock", "model_id": "us.amazon.nova-lite-v1:0"},
    }
)
ANSWER = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Hello there"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7},
    "metrics": {"latencyMs": 120},
}


def client() -> Any:
    return boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def throttle(stub: Stubber, times: int) -> None:
    for _ in range(times):
        stub.add_client_error(
            "converse",
            service_error_code="ThrottlingException",
            service_message="Too many requests, please wait before trying again.",
            http_status_code=429,
        )


def ask(endpoint: BedrockEndpoint) -> list:
    params = SPEC.resolve_parameters({"max_new_tokens": 16})
    return list(endpoint.stream([{"role": "user", "content": "Hi"}], params))


def test_a_throttled_call_is_tried_again_with_growing_jittered_waits_and_answers():
    bedrock, waits = client(), []
    with Stubber(bedrock) as stub:
        throttle(stub, 3)
        stub.add_response("converse", ANSWER)
        events = ask(BedrockEndpoint(SPEC, bedrock, throttle_budget_s=60, sleep=waits.append))
        stub.assert_no_pending_responses()
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == "Hello there"
    assert any(isinstance(e, DoneEvent) for e in events)
    assert len(waits) == 3
    ceilings = [1, 2, 4]  # the backoff doubles; full jitter draws each wait below its ceiling
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(waits, ceilings, strict=True))


def test_past_the_budget_the_user_reads_the_model_is_busy_and_when_to_try_again():
    bedrock, waits = client(), []
    with Stubber(bedrock) as stub:
        throttle(stub, 40)
        events = ask(BedrockEndpoint(SPEC, bedrock, throttle_budget_s=10, sleep=waits.append))
    [error] = [e for e in events if isinstance(e, ErrorEvent)]
    assert error.code == "model_busy"
    assert error.message.startswith("nova-lite is busy")
    retry_in = int(error.message.rsplit("try again in ", 1)[1].split(" ")[0])
    assert 1 <= retry_in <= MAX_BACKOFF_S
    assert sum(waits) <= 10, "the waits stay within the answer's budget"
    assert not any(isinstance(e, TokenEvent) for e in events)


def test_other_errors_are_not_retried():
    bedrock, waits = client(), []
    with Stubber(bedrock) as stub:
        stub.add_client_error("converse", service_error_code="AccessDeniedException", http_status_code=403)
        events = ask(BedrockEndpoint(SPEC, bedrock, sleep=waits.append))
    [error] = [e for e in events if isinstance(e, ErrorEvent)]
    assert error.code != "model_busy"
    assert "Model access" in error.message
    assert waits == []
