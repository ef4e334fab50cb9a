"""The tool loop with real components: a real MCP calculator server on 127.0.0.1, the real local
model server called as a Bedrock model; and a scripted endpoint for a model that never stops
calling tools."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import jsonschema
import pytest

from chatbot.api.tool_specs import ToolChoice, ToolRequest
from chatbot.models.bedrock import BedrockEndpoint
from chatbot.models.clients import bedrock_runtime_client
from chatbot.models.events import (
    DoneEvent,
    ErrorEvent,
    Metrics,
    StartEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
    Usage,
)
from chatbot.models.spec import ModelSpec
from chatbot.tools import mcp_client
from chatbot.tools.loop import LoopLimits, McpToolRunner, run_tool_loop
from chatbot.tools.mcp_client import McpServerConnection
from launcher.processes import free_port
from tests.chatbot.tools.mcp_calculator import running_calculator

LOCAL = {
    "name": "smollm2-bedrock",
    "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "context_window": 2048,
    "tools": True,
    "deployment": {"kind": "bedrock", "model_id": "smollm2-135m"},
}


@pytest.fixture(scope="module")
def calculator_url() -> Iterator[str]:
    with running_calculator() as url:
        yield url


@pytest.fixture(scope="module")
def calculator(calculator_url: str) -> McpServerConnection:
    # The test server is on the loopback: an administrator allowed private ranges for it.
    return McpServerConnection(name="calculator", url=calculator_url, allow_private=True)


@pytest.fixture(scope="module")
def endpoint(model_server_url: str) -> BedrockEndpoint:
    client = bedrock_runtime_client(endpoint_url=model_server_url, max_attempts=1)
    return BedrockEndpoint(ModelSpec.model_validate(LOCAL), client)


def listed(server: McpServerConnection) -> list:
    return anyio.run(mcp_client.list_tools, server)


def test_the_servers_tools_are_listed_with_their_schemas(calculator: McpServerConnection):
    tools = {tool.name: tool for tool in listed(calculator)}
    assert set(tools) == {"add", "shout"}
    assert tools["add"].server == "calculator"
    assert tools["add"].parameters["required"] == ["a", "b"]


def test_a_forced_call_then_its_result_then_the_final_answer(endpoint, calculator):
    add = next(tool for tool in listed(calculator) if tool.name == "add")
    request = ToolRequest(tools=[add], choice=ToolChoice(mode="tool", name="add"))
    params = endpoint.spec.resolve_parameters({"max_new_tokens": 40, "temperature": 0})
    events = list(
        run_tool_loop(
            endpoint,
            [{"role": "user", "content": "What is 2 plus 3?"}],
            params,
            request,
            McpToolRunner({"calculator": calculator}),
        )
    )
    kinds = [event.type for event in events]
    assert kinds[:3] == ["start", "tool_call", "tool_result"]
    assert kinds[-1] == "done"
    assert kinds.count("start") == 1
    call, result = events[1], events[2]
    assert isinstance(call, ToolCallEvent)
    assert call.server == "calculator"
    jsonschema.validate(call.arguments, add.parameters)
    assert isinstance(result, ToolResultEvent)
    assert result.content == str(call.arguments["a"] + call.arguments["b"]), "the real server computed it"
    assert any(isinstance(event, TokenEvent) and event.text.strip() for event in events), "a final answer"
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.finish_reason != "tool_calls"
    assert done.usage.prompt_tokens > 100, "both steps' prompts are counted"


def test_a_result_over_the_cap_is_cut_and_says_so(calculator):
    runner = McpToolRunner({"calculator": calculator})
    call = ToolCallEvent(id="c1", name="shout", arguments={"text": "ha"}, server="calculator")
    outcome = runner(call, LoopLimits(max_result_chars=100))
    assert len(outcome.content) == 100
    assert outcome.truncated


class AlwaysCalls:
    """A model that calls the tool at every step, whatever it is told."""

    def __init__(self) -> None:
        self.steps = 0

    def stream(self, prompt, params, *, mode=None, tools=None):
        self.steps += 1
        yield StartEvent(model="looper")
        yield ToolCallEvent(id=f"c{self.steps}", name="add", arguments={"a": 1, "b": 1})
        yield DoneEvent(
            finish_reason="tool_calls",
            usage=Usage(prompt_tokens=10, completion_tokens=5),
            metrics=Metrics(total_ms=1),
        )


def test_a_model_that_keeps_calling_stops_at_the_step_limit_and_says_so(calculator):
    add = next(tool for tool in listed(calculator) if tool.name == "add")
    model = AlwaysCalls()
    events = list(
        run_tool_loop(
            model,
            [{"role": "user", "content": "Loop."}],
            ModelSpec.model_validate(LOCAL).resolve_parameters(),
            ToolRequest(tools=[add]),
            McpToolRunner({"calculator": calculator}),
            limits=LoopLimits(max_steps=3),
        )
    )
    assert [event.type for event in events].count("tool_result") == 3
    assert model.steps == 4, "the fourth call is not run"
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert error.code == "tool_step_limit"
    assert "Stopped after 3 rounds of tool calls" in error.message


def test_a_server_that_is_down_ends_the_answer_with_an_error_that_names_it(calculator):
    add = next(tool for tool in listed(calculator) if tool.name == "add")
    down = McpServerConnection(name="ledger", url=f"http://127.0.0.1:{free_port()}/mcp", allow_private=True)
    events = list(
        run_tool_loop(
            AlwaysCalls(),
            [{"role": "user", "content": "Add."}],
            ModelSpec.model_validate(LOCAL).resolve_parameters(),
            ToolRequest(tools=[add.model_copy(update={"server": "ledger"})]),
            McpToolRunner({"ledger": down}),
        )
    )
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert error.code == "tool_server_error"
    assert "'ledger'" in error.message
    assert isinstance(events[-2], ToolResultEvent)
    assert events[-2].is_error
