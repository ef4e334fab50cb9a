"""Images for Bedrock models (issue 23): Converse image blocks on the wire (botocore's Stubber
checks the request against Bedrock's own service model), refused before any call for a model
whose catalog entry does not say `images: true`, and refused in words by the local model server,
which has no vision model."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from chatbot.errors import ChatbotError, ParameterError
from chatbot.models.bedrock import BedrockEndpoint
from chatbot.models.clients import bedrock_runtime_client
from chatbot.models.events import ErrorEvent, TokenEvent
from chatbot.models.spec import ModelSpec

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
CLAUDE = {
    "name": "claude-3.5-haiku",
    "model_id": "anthropic.claude-3-5-haiku",
    "context_window": 200_000,
    "max_new_tokens_limit": 8192,
    "streaming": "none",
    "images": True,
    "deployment": {"kind": "bedrock", "model_id": "us.anthropic.claude-3-5-haiku-20241022-v1:0"},
}
LOCAL = {
    "name": "smollm2-bedrock",
    "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "context_window": 2048,
    "images": True,  # claimed here only to reach the server: it has no vision model
    "deployment": {"kind": "bedrock", "model_id": "smollm2-135m"},
}


def with_image(endpoint: BedrockEndpoint, text: str):
    params = endpoint.spec.resolve_parameters({"max_new_tokens": 16, "temperature": 0})
    messages = [dict(m) for m in endpoint.fit_prompt([], text, params).prompt]
    messages[-1]["images"] = [{"format": "png", "bytes": PNG}]
    return messages, params


def test_an_image_travels_as_a_converse_image_block_before_the_text():
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    endpoint = BedrockEndpoint(ModelSpec.model_validate(CLAUDE), client)
    messages, params = with_image(endpoint, "What is in this picture?")
    answer = {
        "output": {"message": {"role": "assistant", "content": [{"text": "A cat."}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 20, "outputTokens": 3, "totalTokens": 23},
        "metrics": {"latencyMs": 10},
    }
    expected = endpoint.request(messages, params.wire_values(endpoint.adapter.stop_words()))
    assert expected["messages"][-1]["content"] == [
        {"image": {"format": "png", "source": {"bytes": PNG}}},
        {"text": "What is in this picture?"},
    ]
    with Stubber(client) as stubber:  # validates the request against Bedrock's service model
        stubber.add_response("converse", answer, expected)
        events = list(endpoint.stream(messages, params))
        stubber.assert_no_pending_responses()
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == "A cat."


def test_a_model_that_takes_no_images_refuses_them_before_any_call():
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    endpoint = BedrockEndpoint(ModelSpec.model_validate({**CLAUDE, "images": False}), client)
    messages, params = with_image(endpoint, "What is this?")
    with Stubber(client), pytest.raises(ParameterError, match="does not take images") as refused:
        endpoint.stream(messages, params)  # a call would fail: the stubber has no answers
    assert refused.value.http_status == 422


def test_the_local_model_server_refuses_images_in_words(model_server_url: str):
    client = bedrock_runtime_client(endpoint_url=model_server_url, max_attempts=1)
    endpoint = BedrockEndpoint(ModelSpec.model_validate(LOCAL), client)
    messages, params = with_image(endpoint, "What is this?")
    try:
        events = list(endpoint.stream(messages, params))
    except ChatbotError as exc:  # refused before the stream: as a typed error
        message = str(exc)
    else:
        [error] = [e for e in events if isinstance(e, ErrorEvent)]
        message = error.message
    assert "images and documents are not supported" in message
