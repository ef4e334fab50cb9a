"""Calls to a scale-to-zero SageMaker model: every call names the model's inference component
(SageMaker refuses a call that does not: "Inference Component Name header is required"), and
a call that finds no copy running tells the user the model is warming up and when to try
again. boto3's real sagemaker-runtime client answers through botocore's Stubber."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from chatbot.errors import ModelWarmingUpError
from chatbot.models.endpoints import NO_CAPACITY_MESSAGE, WARM_UP_S, SageMakerEndpoint
from chatbot.models.events import DoneEvent, ErrorEvent, TokenEvent
from chatbot.models.spec import ModelSpec

TGI_ANSWER = (
    b'[{"generated_text": "Hello there", "details": {"finish_reason": "eos_token", "generated_tokens": 2}}]'
)


def spec(*, scale_to_zero: bool) -> ModelSpec:
    return ModelSpec.model_validate(
        {
            "name": "smollm2-135m",
            "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
            "endpoint_name": "smollm2-135m",
            "streaming": "none",
            "context_window": 2048,
            "deployment": {
                "kind": "cpu-llamacpp",
                "instance_type": "ml.c7i.large",
                "gguf": "smollm2-135m-instruct-q4_1",
                "scale_to_zero": scale_to_zero,
            },
        }
    )


def client() -> Any:
    return boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def ask(model: ModelSpec, runtime: Any) -> list:
    endpoint = SageMakerEndpoint(model, runtime)
    return list(endpoint.stream("Hi", model.resolve_parameters({"max_new_tokens": 8})))


@pytest.mark.parametrize("scale_to_zero", [True, False])
def test_a_scale_to_zero_model_is_called_through_its_inference_component(scale_to_zero: bool):
    model, runtime = spec(scale_to_zero=scale_to_zero), client()
    expected = {"EndpointName": "smollm2-135m", "Body": ANY, "ContentType": "application/json"}
    if scale_to_zero:
        expected["InferenceComponentName"] = "smollm2-135m-ic"  # the name infra deploys it under
    with Stubber(runtime) as stub:
        stub.add_response("invoke_endpoint", {"Body": _body(TGI_ANSWER)}, expected)
        events = ask(model, runtime)
        stub.assert_no_pending_responses()
    assert "".join(event.text for event in events if isinstance(event, TokenEvent)) == "Hello there"
    assert isinstance(events[-1], DoneEvent)


def test_a_call_that_finds_no_copy_running_says_the_model_is_warming_up_and_when_to_try_again():
    model, runtime = spec(scale_to_zero=True), client()
    with Stubber(runtime) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code="ValidationError",
            service_message=(
                "Inference Component has no capacity to process this request. ApplicationAutoScaling "
                "may be in-progress (if configured) or try to increase the capacity by invoking "
                "UpdateInferenceComponentRuntimeConfig API."
            ),
            http_status_code=400,
        )
        events = ask(model, runtime)
    [error] = [event for event in events if isinstance(event, ErrorEvent)]
    assert error.code == "model_warming_up"
    assert f"about {WARM_UP_S // 60} minutes" in error.message
    assert not [event for event in events if isinstance(event, TokenEvent)]


def _body(data: bytes) -> Any:
    from io import BytesIO

    from botocore.response import StreamingBody

    return StreamingBody(BytesIO(data), len(data))


NO_CAPACITY = {
    "service_error_code": "ValidationError",
    "service_message": NO_CAPACITY_MESSAGE,
    "http_status_code": 400,
}


def test_before_a_stream_a_cold_model_refuses_a_one_token_call_and_that_call_starts_it():
    """Endpoint.ensure_ready: what the API asks before it opens a stream (503, nothing saved)."""
    model, runtime = spec(scale_to_zero=True), client()
    endpoint = SageMakerEndpoint(model, runtime)
    probe = {
        "EndpointName": "smollm2-135m",
        "InferenceComponentName": "smollm2-135m-ic",
        "Body": ANY,
        "ContentType": "application/json",
    }
    with Stubber(runtime) as stub:
        stub.add_client_error("invoke_endpoint", expected_params=probe, **NO_CAPACITY)
        with pytest.raises(ModelWarmingUpError) as refused:
            endpoint.ensure_ready()
        assert refused.value.retry_after_s == WARM_UP_S
        # Once up: it answers the one-token call, and is not asked again for a while.
        stub.add_response("invoke_endpoint", {"Body": _body(TGI_ANSWER)}, probe)
        endpoint.ensure_ready()
        endpoint.ensure_ready()
        stub.assert_no_pending_responses()


def test_a_model_that_is_always_up_is_not_asked_before_the_stream():
    model, runtime = spec(scale_to_zero=False), client()
    with Stubber(runtime):  # any call would fail: nothing is stubbed
        SageMakerEndpoint(model, runtime).ensure_ready()


def test_another_failure_of_the_one_token_call_is_left_to_the_real_call_to_report():
    model, runtime = spec(scale_to_zero=True), client()
    with Stubber(runtime) as stub:
        stub.add_client_error(
            "invoke_endpoint", service_error_code="ModelError", service_message="boom", http_status_code=424
        )
        SageMakerEndpoint(model, runtime).ensure_ready()  # no ModelWarmingUpError: the stream says what broke
        stub.assert_no_pending_responses()
