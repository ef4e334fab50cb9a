"""The API's contract for tools: MCP servers as administrators register them, the tools a user
may choose, and the choice a chat sends. (Tool call and result events are in the event schema.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class McpServerRegistration(BaseModel):
    """PUT /mcp-servers/{name}: add or replace a server (administrators)."""

    model_config = ConfigDict(extra="forbid")

    #: Streamable-HTTP endpoint, e.g. https://tools.example.com/mcp. Only registered URLs are called.
    url: str = Field(min_length=8, max_length=2000)
    #: The header that carries the secret, e.g. "Authorization".
    auth_header: str | None = Field(None, pattern=r"^[A-Za-z0-9-]{1,100}$")
    #: The header's value (e.g. "Bearer ..."): stored as a secret, never shown again. Left out
    #: when replacing a server: its stored secret stays.
    secret: str | None = Field(None, min_length=1, max_length=4000, repr=False)
    #: Allow private, loopback and link-local addresses (an internal server). Off by default.
    allow_private: bool = False
    #: The roles whose users may choose its tools ("everyone": every signed-in user). Administrators
    #: always may. The server's secret then acts for every one of them.
    roles: list[str] = Field(default_factory=lambda: ["admin"], max_length=50)


class McpServerInfo(BaseModel):
    """A registered server, as administrators see it: never its secret."""

    name: str
    url: str
    auth_header: str | None
    has_secret: bool
    allow_private: bool
    roles: list[str]
    created_by: str
    created_at: datetime


class ToolInfo(BaseModel):
    """One tool a user may choose for a chat."""

    server: str
    name: str
    description: str
    #: JSON Schema of its arguments.
    parameters: dict[str, Any]


class ToolsListing(BaseModel):
    """GET /tools: the tools of the servers published to the caller."""

    tools: list[ToolInfo]
    #: Servers that could not be listed now, with why (a server that is down names itself).
    unavailable: dict[str, str] = Field(default_factory=dict)


class ToolChoiceRequest(BaseModel):
    """The tools a chat may call, chosen by the user: `server/tool` names."""

    model_config = ConfigDict(extra="forbid")

    tools: list[str] = Field(default_factory=list, max_length=32)
    #: Rounds of tool calls one answer may make.
    max_steps: int = Field(4, ge=1, le=10)


class ToolStepView(BaseModel):
    """One tool call of a saved or live answer, as the UI shows it (collapsed): the result is the
    tool's own text, untrusted, shown as plain text only."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str
    server: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    #: None while the call runs.
    result: str | None = None
    is_error: bool = False
    truncated: bool = False
