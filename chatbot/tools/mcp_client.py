"""Calling MCP servers over streamable HTTP, through the address guard, with a timeout on every
call and a cap on what a result may bring back. Every failure becomes a ToolServerError that
names the server, so the chat can say which one is down."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel, ConfigDict, Field

from chatbot.api.tool_specs import ToolSpec
from chatbot.errors import ChatbotError

if TYPE_CHECKING:
    from mcp import Client

#: Seconds one MCP call (connect, handshake and the call) may take.
CALL_TIMEOUT_S = 20.0
#: Characters of one tool result that reach the model and the history.
MAX_RESULT_CHARS = 8000


class ToolServerError(ChatbotError):
    """An MCP server could not be reached, refused, or failed."""

    code = "tool_server_error"
    http_status = 502

    def __init__(self, server: str, message: str):
        super().__init__(f"The MCP server {server!r} failed: {message}")
        self.server = server


class McpServerConnection(BaseModel):
    """What it takes to call one registered server (the secret already read from its store)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    url: str
    #: e.g. ("Authorization", "Bearer ..."); sent on every request to this server only.
    auth_header: tuple[str, str] | None = Field(None, repr=False)
    allow_private: bool = False


@dataclass(frozen=True)
class ToolOutcome:
    content: str
    is_error: bool
    truncated: bool


def _client(server: McpServerConnection, timeout_s: float) -> Client:
    # Imported here: the MCP SDK is large, and most chat API requests (and cold starts) need none of it.
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from chatbot.tools.address_guard import guarded_client

    headers = dict([server.auth_header]) if server.auth_header else None
    http = guarded_client(allow_private=server.allow_private, headers=headers, timeout_s=timeout_s)
    return Client(streamable_http_client(server.url, http_client=http), read_timeout_seconds=timeout_s)


def _failure(server: McpServerConnection, exc: BaseException) -> ToolServerError:
    from chatbot.tools.address_guard import AddressRefusedError

    if isinstance(exc, BaseExceptionGroup):  # anyio task groups wrap what went wrong
        refused = exc.subgroup(AddressRefusedError)
        first = refused.exceptions[0] if refused else exc.exceptions[0]
        return _failure(server, first)
    if isinstance(exc, AddressRefusedError):
        return ToolServerError(server.name, str(exc))
    if isinstance(exc, TimeoutError):
        return ToolServerError(server.name, "it did not answer in time. Try again later.")
    return ToolServerError(server.name, f"{type(exc).__name__}: {exc}. Check that it is running.")


async def list_tools(server: McpServerConnection, timeout_s: float = CALL_TIMEOUT_S) -> list[ToolSpec]:
    """The server's tools, each tagged with the server's name."""
    try:
        with anyio.fail_after(timeout_s):
            async with _client(server, timeout_s) as client:
                listed = await client.list_tools()
    except Exception as exc:
        raise _failure(server, exc) from exc
    return [
        ToolSpec(
            name=tool.name,
            description=tool.description or "",
            parameters=tool.input_schema,
            server=server.name,
        )
        for tool in listed.tools
    ]


def _text_of(result: Any) -> str:
    parts = []
    for block in result.content:
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(block, 'type', 'content')} omitted]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


async def call_tool(
    server: McpServerConnection,
    name: str,
    arguments: dict[str, Any],
    *,
    timeout_s: float = CALL_TIMEOUT_S,
    max_chars: int = MAX_RESULT_CHARS,
) -> ToolOutcome:
    try:
        with anyio.fail_after(timeout_s):
            async with _client(server, timeout_s) as client:
                result = await client.call_tool(name, arguments)
    except Exception as exc:
        raise _failure(server, exc) from exc
    text = _text_of(result)
    return ToolOutcome(text[:max_chars], bool(result.is_error), len(text) > max_chars)
