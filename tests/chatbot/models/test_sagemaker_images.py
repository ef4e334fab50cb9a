"""Images for SageMaker models (issue 23): a model whose catalog entry says `images: true` and
whose endpoint takes a chat list (TGI's Messages API) gets the question's images as OpenAI-style
content parts, data URLs after the text (botocore's Stubber checks the exact request body). A
text-prompt endpoint cannot carry images, so the catalog refuses `images: true` for it at load;
the local model server, which has no vision model, refuses them in words."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import boto3
import pytest
from botocore.eventstream import EventStream
from botocore.parsers import EventStreamJSONParser
from botocore.response import StreamingBody
from botocore.stub import Stubber

from chatbot.errors import ChatbotError, ParameterError
from chatbot.models.endpoints import SageMakerEndpoint
from chatbot.models.events import ErrorEvent, TokenEvent
from chatbot.models.spec import ModelSpec
from inference.eventstream import payload_part

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
VISION = {
    "name": "qwen2-vl",
    "model_id": "Qwen/Qwen2-VL-7B-Instruct",
    "endpoint_name": "qwen2-vl",
    "adapter": "chat-messages",
    "endpoint_req_config": "openai-chat",
    "context_window": 8192,
    "images": True,
    "deployment": {
        "kind": "tgi",
        "hf_model_id": "Qwen/Qwen2-VL-7B-Instruct",
        "instance_type": "ml.g5.2xlarge",
    },
}
ANSWER = {
    "choices": [{"message": {"role": "assistant", "content": "A cat."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 30, "completion_tokens": 3},
}


class JsonBody:
    """Equal to a request body whose JSON is `expected` (the Stubber compares with ==)."""

    def __init__(self, expected: dict[str, Any]):
        self.expected = expected

    def __eq__(self, body: object) -> bool:
        return isinstance(body, bytes) and json.loads(body) == self.expected

    def __repr__(self) -> str:
        return f"JsonBody({self.expected!r})"


def client() -> Any:
    return boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def with_image(endpoint: SageMakerEndpoint, text: str):
    params = endpoint.spec.resolve_parameters({"max_new_tokens": 16, "temperature": 0.5})
    messages = [dict(m) for m in endpoint.fit_prompt([], text, params).prompt]
    messages[-1]["images"] = [{"format": "png", "bytes": PNG}]
    return messages, params


@pytest.mark.parametrize("streaming", ["native", "none"])
def test_an_image_travels_to_tgis_messages_api_as_a_data_url_content_part(streaming: str):
    runtime = client()
    endpoint = SageMakerEndpoint(ModelSpec.model_validate({**VISION, "streaming": streaming}), runtime)
    messages, params = with_image(endpoint, "What is in this picture?")
    body = {
        "messages": [
            *messages[:-1],
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": PNG_URL}},
                ],
            },
        ],
        "max_tokens": 16,
        "temperature": 0.5,
        "top_p": 0.9,
        "stream": streaming == "native",
        "stream_options": {"include_usage": True},
    }
    expected = {"EndpointName": "qwen2-vl", "Body": JsonBody(body), "ContentType": "application/json"}
    with Stubber(runtime) as stub:
        if streaming == "native":
            answer_as_event_stream(runtime, b'data: {"choices": [{"delta": {"content": "A cat."}}]}\n\n')
            stub.add_response("invoke_endpoint_with_response_stream", {"Body": {}}, expected)
        else:
            answer = json.dumps(ANSWER).encode()
            stub.add_response(
                "invoke_endpoint", {"Body": StreamingBody(io.BytesIO(answer), len(answer))}, expected
            )
        events = list(endpoint.stream(messages, params))
        stub.assert_no_pending_responses()
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == "A cat."


def answer_as_event_stream(runtime: Any, *lines: bytes) -> None:
    """The Stubber checks the request but cannot answer with an event stream (its response
    check wants a dict), so the answer's Body becomes a real botocore EventStream of these
    PayloadParts (framed by the local server's encoder) once the call is made."""
    operation = "InvokeEndpointWithResponseStream"
    shape = runtime.meta.service_model.operation_model(operation).output_shape.members["Body"]
    frames = b"".join(payload_part(line) for line in (*lines, b"data: [DONE]\n\n"))

    class Raw:
        def stream(self):
            yield frames

        def close(self) -> None:
            pass

    def real_stream(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Body"] = EventStream(Raw(), shape, EventStreamJSONParser(), operation)

    runtime.meta.events.register(f"after-call.sagemaker-runtime.{operation}", real_stream)


def test_a_model_that_takes_no_images_refuses_them_before_any_call():
    runtime = client()
    endpoint = SageMakerEndpoint(ModelSpec.model_validate({**VISION, "images": False}), runtime)
    messages, params = with_image(endpoint, "What is this?")
    with Stubber(runtime), pytest.raises(ParameterError, match="does not take images") as refused:
        endpoint.stream(messages, params)  # a call would fail: the stubber has no answers
    assert refused.value.http_status == 422


def test_a_text_prompt_endpoint_cannot_claim_images():
    spec = {**VISION, "endpoint_req_config": "tgi", "adapter": None}
    with pytest.raises(ValueError, match="images: true needs an endpoint that takes a chat list"):
        ModelSpec.model_validate(spec)


def test_the_local_model_server_refuses_images_in_words(runtime_client):
    local = {
        **VISION,
        "name": "smollm2-135m",
        "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "endpoint_name": "smollm2-135m",  # claims images only to reach the server: it has none
        "context_window": 2048,
        "deployment": {"kind": "cpu-llamacpp", "gguf": "smollm2-135m-instruct-q4_1"},
    }
    endpoint = SageMakerEndpoint(ModelSpec.model_validate(local), runtime_client)
    messages, params = with_image(endpoint, "What is this?")
    try:
        events = list(endpoint.stream(messages, params))
    except ChatbotError as exc:  # refused before the stream: as a typed error
        message = str(exc)
    else:
        [error] = [e for e in events if isinstance(e, ErrorEvent)]
        message = error.message
    assert "images are not supported by this server" in message
