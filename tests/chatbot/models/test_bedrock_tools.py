"""Tools on Bedrock models: Converse toolConfig and toolChoice out, toolUse blocks back as
ToolCallEvents (streamed and not), toolResult blocks in the next request; through boto3's real
bedrock-runtime client against the local model server."""

from __future__ import annotations

import jsonschema
import pytest

from chatbot.api.tool_specs import ToolChoice, ToolRequest, ToolSpec
from chatbot.errors import ParameterError
from chatbot.models.bedrock import BedrockEndpoint, converse_messages, tool_config
from chatbot.models.clients import bedrock_runtime_client
from chatbot.models.events import DoneEvent, TokenEvent, ToolCallEvent
from chatbot.models.spec import ModelSpec

LOCAL = {
    "name": "smollm2-bedrock",
    "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "context_window": 2048,
    "tools": True,
    "deployment": {"kind": "bedrock", "model_id": "smollm2-135m", "bedrock_request_fields": ["seed"]},
}
ADD = ToolSpec(
    name="add",
    description="Add two integers.",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
)
FORCED = ToolRequest(tools=[ADD], choice=ToolChoice(mode="tool", name="add"))


@pytest.fixture(scope="module")
def endpoint(model_server_url: str) -> BedrockEndpoint:
    client = bedrock_runtime_client(endpoint_url=model_server_url, max_attempts=1)
    return BedrockEndpoint(ModelSpec.model_validate(LOCAL), client)


def run(endpoint: BedrockEndpoint, prompt: list[dict], tools: ToolRequest | None, mode: str) -> list:
    params = endpoint.spec.resolve_parameters({"max_new_tokens": 60, "temperature": 0})
    return list(endpoint.stream(prompt, params, mode=mode, tools=tools))


@pytest.mark.parametrize("mode", ["native", "none"])
def test_a_forced_call_comes_back_as_a_tool_call_event(endpoint: BedrockEndpoint, mode: str):
    events = run(endpoint, [{"role": "user", "content": "What is 2 plus 3?"}], FORCED, mode)
    [call] = [event for event in events if isinstance(event, ToolCallEvent)]
    assert call.name == "add"
    jsonschema.validate(call.arguments, ADD.parameters)
    assert isinstance(events[-1], DoneEvent)
    assert events[-1].finish_reason == "tool_calls"
    assert not [event for event in events if isinstance(event, TokenEvent) and event.text.strip()]


def test_the_result_goes_back_as_a_tool_result_and_the_model_answers(endpoint: BedrockEndpoint):
    prompt = [
        {"role": "user", "content": "What is 2 plus 3?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "name": "add", "arguments": {"a": 2, "b": 3}}],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "add", "content": "5"},
    ]
    auto = ToolRequest(tools=[ADD], choice=ToolChoice(mode="auto"))
    events = run(endpoint, prompt, auto, "native")
    assert isinstance(events[-1], DoneEvent)


def test_tool_calls_and_results_become_converse_blocks():
    _, messages = converse_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Add 2 and 3"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c1", "name": "add", "arguments": {"a": 2}}],
            },
            {"role": "tool", "tool_call_id": "c1", "name": "add", "content": "5", "is_error": False},
        ]
    )
    assert messages == [
        {"role": "user", "content": [{"text": "Add 2 and 3"}]},
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "c1", "name": "add", "input": {"a": 2}}}],
        },
        {"role": "user", "content": [{"toolResult": {"toolUseId": "c1", "content": [{"text": "5"}]}}]},
    ]


def test_the_tool_choice_becomes_converses():
    assert tool_config(FORCED)["toolChoice"] == {"tool": {"name": "add"}}
    assert tool_config(ToolRequest(tools=[ADD], choice=ToolChoice(mode="any")))["toolChoice"] == {"any": {}}
    assert tool_config(FORCED)["tools"][0]["toolSpec"]["inputSchema"] == {"json": ADD.parameters}


def test_a_model_without_tools_refuses_them_before_any_call():
    spec = ModelSpec.model_validate({**LOCAL, "tools": False})
    endpoint = BedrockEndpoint(spec, client=None)
    with pytest.raises(ParameterError, match="does not take tools"):
        endpoint.stream([{"role": "user", "content": "Hi"}], spec.resolve_parameters(), tools=FORCED)


def test_a_schema_that_is_not_json_schema_is_refused():
    with pytest.raises(ValueError, match="not valid JSON Schema"):
        ToolSpec(name="add", parameters={"type": "integer-ish"})
