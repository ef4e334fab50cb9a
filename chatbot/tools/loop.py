"""The tool loop: the model answers; when it calls tools, each call runs (an MCP server, within
the limits), its result goes back into the conversation as untrusted data, and the model is asked
again, until it answers in text or the step limit is reached (then it stops and says so).

Events out: the first step's Start, every step's tokens, a ToolCallEvent and a ToolResultEvent per
call, and one Done whose usage is the sum of every step's (what the quota settles). A server that
fails ends the answer with an ErrorEvent that names it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from chatbot.api.tool_specs import ToolChoice, ToolRequest
from chatbot.errors import ChatbotError
from chatbot.models.events import (
    DoneEvent,
    ErrorEvent,
    EventStream,
    StartEvent,
    ToolCallEvent,
    ToolResultEvent,
    Usage,
)
from chatbot.models.spec import GenerationParams
from chatbot.tools.mcp_client import (
    CALL_TIMEOUT_S,
    MAX_RESULT_CHARS,
    McpServerConnection,
    ToolOutcome,
    call_tool,
)


class ToolStepLimitError(ChatbotError):
    code = "tool_step_limit"
    http_status = 422


@dataclass(frozen=True)
class LoopLimits:
    #: Rounds of tool calls in one answer; the model's next call after that is not run.
    max_steps: int = 4
    #: Seconds one tool call may take.
    call_timeout_s: float = CALL_TIMEOUT_S
    #: Characters of one result kept (the rest is cut, and the result says so).
    max_result_chars: int = MAX_RESULT_CHARS


#: Runs one call; raises ChatbotError (ToolServerError) when the tool's server fails.
ToolRunner = Callable[[ToolCallEvent, LoopLimits], ToolOutcome]


class McpToolRunner:
    """Runs calls on the registered MCP servers the chosen tools belong to (and no others)."""

    def __init__(self, servers: dict[str, McpServerConnection]):
        self._servers = servers

    def __call__(self, call: ToolCallEvent, limits: LoopLimits) -> ToolOutcome:
        server = self._servers.get(call.server or "")
        if server is None:
            raise ChatbotError(f"The tool {call.name!r} belongs to no server chosen for this chat.")
        # The pipeline runs in a worker thread: each call gets its own short event loop.
        return anyio.run(
            lambda: call_tool(
                server,
                call.name,
                call.arguments,
                timeout_s=limits.call_timeout_s,
                max_chars=limits.max_result_chars,
            )
        )


def _next_tools(tools: ToolRequest) -> ToolRequest:
    """After a forced call the model answers from the result (a forced choice would call forever);
    with auto it may call again."""
    if tools.choice.mode in ("any", "tool"):
        return tools.model_copy(update={"choice": ToolChoice(mode="none")})
    return tools


def _added(total: Usage, usage: Usage) -> Usage:
    def plus(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    return Usage(
        prompt_tokens=plus(total.prompt_tokens, usage.prompt_tokens),
        completion_tokens=plus(total.completion_tokens, usage.completion_tokens),
    )


def run_tool_loop(
    endpoint: Any,
    prompt: list[dict[str, Any]],
    params: GenerationParams,
    tools: ToolRequest,
    run_tool: ToolRunner,
    *,
    limits: LoopLimits = LoopLimits(),
    cancelled: threading.Event | None = None,
    mode: str | None = None,
) -> EventStream:
    """`endpoint` streams with tools (BedrockEndpoint.stream(prompt, params, mode=, tools=))."""
    messages = list(prompt)
    servers = {tool.name: tool.server for tool in tools.tools}
    usage = Usage()
    step_tools = tools
    for step in range(limits.max_steps + 1):
        calls: list[ToolCallEvent] = []
        done: DoneEvent | None = None
        for event in endpoint.stream(messages, params, mode=mode, tools=step_tools):
            if isinstance(event, StartEvent) and step > 0:
                continue
            if isinstance(event, ToolCallEvent):
                event = event.model_copy(update={"server": servers.get(event.name)})
                calls.append(event)
            if isinstance(event, DoneEvent):
                done = event
                usage = _added(usage, event.usage)
                continue
            yield event
            if isinstance(event, ErrorEvent):
                return
        if done is None:
            return
        if not calls or (cancelled is not None and cancelled.is_set()):
            yield done.model_copy(update={"usage": usage})
            return
        if step == limits.max_steps:
            break
        messages.append(
            {"role": "assistant", "content": "", "tool_calls": [_call_dict(call) for call in calls]}
        )
        for call in calls:
            try:
                outcome = run_tool(call, limits)
            except ChatbotError as exc:
                yield ToolResultEvent(id=call.id, name=call.name, content=str(exc), is_error=True)
                yield ErrorEvent.from_exception(exc)
                return
            yield ToolResultEvent(
                id=call.id,
                name=call.name,
                content=outcome.content,
                is_error=outcome.is_error,
                truncated=outcome.truncated,
            )
            content = outcome.content + (
                "\n[result cut: it was longer than the limit]" if outcome.truncated else ""
            )
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call.id,
                    "name": call.name,
                    "content": content,
                    "is_error": outcome.is_error,
                }
            )
        step_tools = _next_tools(step_tools)
    yield ErrorEvent.from_exception(
        ToolStepLimitError(
            f"Stopped after {limits.max_steps} rounds of tool calls: the model kept calling tools "
            "without answering. Ask again more precisely, or with fewer tools."
        )
    )


def _call_dict(call: ToolCallEvent) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": call.arguments}
