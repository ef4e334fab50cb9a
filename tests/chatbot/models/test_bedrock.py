"""Bedrock models: the Converse request built from GenerationParams within the model's bounds,
the same events as every other model (through boto3's real bedrock-runtime client against the
local model server), and Bedrock's errors as the library's typed errors."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EventStreamError

from chatbot.errors import (
    ConfigError,
    ModelCallError,
    ModelStreamError,
    ModelThrottledError,
    ParameterError,
    PromptTooLongError,
)
from chatbot.models.bedrock import BedrockEndpoint, _from_client_error, _from_stream_error, converse_messages
from chatbot.models.clients import RuntimeClients, bedrock_runtime_client
from chatbot.models.events import DoneEvent, ErrorEvent, StartEvent, TokenEvent
from chatbot.models.spec import ModelSpec

LOCAL = {
    "name": "smollm2-bedrock",
    "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "context_window": 2048,
    "deployment": {
        "kind": "bedrock",
        "model_id": "smollm2-135m",
        "bedrock_request_fields": ["seed", "top_k", "repetition_penalty"],
    },
}
CLAUDE = {
    "name": "claude-3.5-haiku",
    "model_id": "anthropic.claude-3-5-haiku",
    "context_window": 200_000,
    "max_new_tokens_limit": 8192,
    "deployment": {"kind": "bedrock", "model_id": "us.anthropic.claude-3-5-haiku-20241022-v1:0"},
}


@pytest.fixture(scope="module")
def bedrock(model_server_url: str):
    return bedrock_runtime_client(endpoint_url=model_server_url, max_attempts=1)


def endpoint_for(spec: dict, client=None) -> BedrockEndpoint:
    return BedrockEndpoint(ModelSpec.model_validate(spec), client)


def ask(endpoint: BedrockEndpoint, message: str, mode: str | None = None, **overrides) -> list:
    # Greedy unless told otherwise: an answer that is never empty, on any build.
    params = endpoint.spec.resolve_parameters({"max_new_tokens": 16, "temperature": 0, **overrides})
    fitted = endpoint.fit_prompt([], message, params)
    return list(endpoint.stream(fitted.prompt, params, mode=mode))


def test_a_bedrock_spec_needs_a_model_id_and_no_endpoint():
    spec = ModelSpec.model_validate(CLAUDE)
    assert spec.endpoint_name == "claude-3-5-haiku", "a label made from the name"
    with pytest.raises(ValueError, match="deployment kind 'bedrock' needs model_id"):
        ModelSpec.model_validate({**CLAUDE, "deployment": {"kind": "bedrock"}})
    with pytest.raises(ValueError, match="native"):
        ModelSpec.model_validate({**CLAUDE, "streaming": "batched"})


def test_the_runtime_clients_pick_bedrock_for_bedrock_models(catalog):
    clients = RuntimeClients(sagemaker=object(), bedrock=object())
    assert isinstance(clients.endpoint(ModelSpec.model_validate(CLAUDE)), BedrockEndpoint)
    assert not isinstance(clients.endpoint(catalog.get("gemma3-270m")), BedrockEndpoint)


def test_a_text_prompt_adapter_cannot_talk_to_converse():
    with pytest.raises(ConfigError, match="Converse takes messages"):
        endpoint_for({**CLAUDE, "adapter": "smollm2"})


def test_generation_params_become_inference_config_within_the_models_bounds():
    endpoint = endpoint_for(CLAUDE)
    params = endpoint.spec.resolve_parameters(
        {"max_new_tokens": 300, "temperature": 0.3, "top_p": 0.8, "top_k": 40, "stop": list("abcdef")}
    )
    request = endpoint.request(endpoint.fit_prompt([], "Hi", params).prompt, params.wire_values([]))
    assert request["modelId"] == "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert request["inferenceConfig"] == {
        "maxTokens": 300,
        "temperature": 0.3,
        "topP": 0.8,
        "stopSequences": ["a", "b", "c", "d"],  # the model takes four; the filter still holds back the rest
    }
    assert request["system"] == [{"text": endpoint.adapter.system_prompt}]
    assert request["messages"] == [{"role": "user", "content": [{"text": "Hi"}]}]
    assert "additionalModelRequestFields" not in request, "only fields the spec lists are sent"


def test_greedy_decoding_sends_temperature_zero_and_no_top_p():
    endpoint = endpoint_for(CLAUDE)
    params = endpoint.spec.resolve_parameters({"temperature": 0})
    request = endpoint.request([{"role": "user", "content": "Hi"}], params.wire_values([]))
    assert request["inferenceConfig"]["temperature"] == 0
    assert "topP" not in request["inferenceConfig"]


def test_a_temperature_beyond_the_models_bound_is_refused_before_any_call():
    endpoint = endpoint_for(CLAUDE, client=None)  # no client: nothing may be called
    params = endpoint.spec.resolve_parameters({"temperature": 1.5})
    with pytest.raises(
        ParameterError, match=r"temperature=1.5 is outside what this endpoint accepts \(ge 0.0, le 1.0\)"
    ):
        endpoint.stream([{"role": "user", "content": "Hi"}], params)


def test_converse_messages_start_with_the_user_and_alternate():
    system, messages = converse_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "assistant", "content": "Hello, how can I help?"},
            {"role": "user", "content": "Hi."},
            {"role": "user", "content": "Are you there?"},
            {"role": "assistant", "content": "Yes."},
            {"role": "user", "content": "Good."},
        ]
    )
    assert system == "Be brief."
    assert messages == [
        {"role": "user", "content": [{"text": "Hi.\n\nAre you there?"}]},
        {"role": "assistant", "content": [{"text": "Yes."}]},
        {"role": "user", "content": [{"text": "Good."}]},
    ]


@pytest.mark.parametrize("mode", ["native", "none"])
def test_a_local_model_answers_through_bedrock_with_the_same_events(bedrock, mode: str):
    endpoint = endpoint_for(LOCAL, bedrock)
    events = ask(endpoint, "What is the capital of France?", mode)
    assert events[0] == StartEvent(model="smollm2-bedrock")
    tokens = [event for event in events if isinstance(event, TokenEvent)]
    done = events[-1]
    assert isinstance(done, DoneEvent), events
    assert "".join(token.text for token in tokens).strip()
    assert done.finish_reason in ("eos", "length")
    assert 0 < done.usage.completion_tokens <= 16
    assert done.usage.prompt_tokens > 10, "usage comes from the metadata event"
    assert done.metrics.total_ms >= 0
    if mode == "native":
        assert len(tokens) > 1


def test_parameters_a_spec_lists_go_in_additional_model_request_fields():
    endpoint = endpoint_for(LOCAL)
    params = endpoint.spec.resolve_parameters({"seed": 21, "top_k": 0, "repetition_penalty": 1.2})
    request = endpoint.request([{"role": "user", "content": "Hi"}], params.wire_values([]))
    assert request["additionalModelRequestFields"] == {"seed": 21, "repetition_penalty": 1.2}, (
        "top_k 0 is off"
    )


def test_an_unknown_model_id_is_an_error_event_that_says_what_to_check(bedrock):
    endpoint = endpoint_for({**LOCAL, "deployment": {"kind": "bedrock", "model_id": "nope"}}, bedrock)
    events = ask(endpoint, "Hi")
    assert isinstance(events[-1], ErrorEvent)
    assert events[-1].code == "model_error"
    assert "Bedrock does not know the model id 'nope'" in events[-1].message
    assert "deployment.model_id" in events[-1].message


def client_error(code: str, message: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "ConverseStream",
    )


@pytest.mark.parametrize(
    ("code", "message", "status", "error_type", "says"),
    [
        ("ThrottlingException", "Too many requests", 429, ModelThrottledError, "busy right now"),
        ("ServiceUnavailableException", "Unavailable", 503, ModelThrottledError, "Try again in a moment"),
        (
            "ValidationException",
            "Input is too long for requested model.",
            400,
            PromptTooLongError,
            "too long",
        ),
        ("ValidationException", "temperature: must be <= 1", 400, ParameterError, "refused the request"),
        ("AccessDeniedException", "You don't have access", 403, ModelCallError, "Model access"),
        ("ResourceNotFoundException", "Model not found", 404, ModelCallError, "Check deployment.model_id"),
        ("ModelErrorException", "boom", 424, ModelCallError, "failed (ModelErrorException): boom"),
    ],
)
def test_bedrock_errors_become_typed_errors_with_what_to_do(code, message, status, error_type, says):
    error = _from_client_error(ModelSpec.model_validate(CLAUDE), client_error(code, message, status))
    assert type(error) is error_type
    assert says in str(error)


def test_errors_part_way_keep_the_partial_answer():
    spec = ModelSpec.model_validate(CLAUDE)
    failed = EventStreamError(
        {"Error": {"Code": "modelStreamErrorException", "Message": "boom"}}, "ConverseStream"
    )
    throttled = EventStreamError(
        {"Error": {"Code": "throttlingException", "Message": "slow"}}, "ConverseStream"
    )
    assert type(_from_stream_error(spec, failed)) is ModelStreamError
    assert type(_from_stream_error(spec, throttled)) is ModelThrottledError
