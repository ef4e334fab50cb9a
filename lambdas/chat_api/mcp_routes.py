"""MCP servers: administrators register, list, inspect and remove them; users list the tools of
the servers published to their roles. A server's secret goes in once and never comes back out.

Every change an administrator makes is in the audit log (issue 21): who, when, and the server
before and after; never its secret (only whether one was set), nor its URL's query string, where
some servers take a key."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from chatbot.api.quotas import AuditEntry
from chatbot.api.records import utc_now
from chatbot.api.requests import ChatRequest
from chatbot.api.tool_specs import ToolChoice, ToolRequest, ToolSpec
from chatbot.api.tools import McpServerInfo, McpServerRegistration, ToolInfo, ToolsListing
from chatbot.errors import ChatbotError, InvalidRequestError
from chatbot.postgres import ConnectionPool, database_url
from chatbot.tools import mcp_client
from chatbot.tools.loop import McpToolRunner
from chatbot.tools.mcp_client import ToolServerError
from chatbot.tools.registry import DynamoDBMcpRegistry, McpRegistry, McpServer, PostgresMcpRegistry
from chatbot.tools.toolbox import Toolbox
from lambdas.chat_api.auth import Caller
from lambdas.chat_api.dependencies import Admin, current_caller
from lambdas.chat_api.users import record_audit

router = APIRouter(tags=["tools"])


class InvalidMcpServerError(ChatbotError):
    code = "invalid_mcp_server"
    http_status = 422


def build_mcp_registry() -> McpRegistry:
    from lambdas.chat_api.settings import ChatApiSettings

    settings = ChatApiSettings.from_env()
    if settings.history_table:
        return DynamoDBMcpRegistry(settings.history_table, settings.mcp_secret_prefix, region=settings.region)
    return PostgresMcpRegistry(ConnectionPool(database_url(settings=settings.database), max_connections=2))


def mcp_registry(request: Request) -> McpRegistry:
    """Built on first use (most requests never need it), then kept on the app."""
    registry = getattr(request.app.state, "mcp_registry", None)
    if registry is None:
        registry = request.app.state.mcp_registry = build_mcp_registry()
    return registry


Registry = Annotated[McpRegistry, Depends(mcp_registry)]
CallerDep = Annotated[Caller, Depends(current_caller)]


def _info(server: McpServer) -> McpServerInfo:
    return McpServerInfo.model_validate(server.model_dump())


@router.get("/mcp-servers")
async def list_servers(admin: Admin, registry: Registry) -> list[McpServerInfo]:
    return [_info(server) for server in await run_in_threadpool(registry.list)]


def _audited(server: McpServer | None) -> dict:
    """What the audit log keeps of a server: no secret, and its URL without query or fragment."""
    if server is None:
        return {}
    scheme, host, path, _, _ = urlsplit(server.url)
    return {
        "url": urlunsplit((scheme, host, path, "", "")),
        "auth_header": server.auth_header,
        "has_secret": server.has_secret,
        "allow_private": server.allow_private,
        "roles": server.roles,
    }


def _action(before: dict, after: dict, secret_changed: bool) -> str:
    if not before:
        return "create_mcp_server"
    if not secret_changed and {**before, "roles": after["roles"]} == after:
        return "publish_mcp_server"  # only who may use it changed
    return "update_mcp_server"


async def _previous(registry: McpRegistry, name: str) -> McpServer | None:
    servers = await run_in_threadpool(registry.list)
    return next((server for server in servers if server.name == name), None)


@router.put("/mcp-servers/{name}")
async def register_server(
    name: str, body: McpServerRegistration, admin: Admin, registry: Registry, request: Request
) -> McpServerInfo:
    try:
        server = McpServer(
            name=name,
            url=body.url,
            auth_header=body.auth_header,
            has_secret=body.secret is not None,
            allow_private=body.allow_private,
            roles=sorted(set(body.roles)),
            created_by=admin.user_id,
            created_at=utc_now(),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise InvalidMcpServerError(
            f"{where}: {message}. Names are lower-case letters, digits and dashes."
        ) from None
    before = _audited(await _previous(registry, name))
    await run_in_threadpool(registry.put, server, body.secret)
    saved = await run_in_threadpool(registry.get, name)
    after = {**_audited(saved), "secret_changed": body.secret is not None}
    action = _action(before, _audited(saved), body.secret is not None)
    entry = AuditEntry(
        at=utc_now(), actor=admin.user_id, action=action, target=f"mcp:{name}", before=before, after=after
    )
    await run_in_threadpool(record_audit, request, entry)
    return _info(saved)


@router.delete("/mcp-servers/{name}", status_code=204)
async def remove_server(name: str, admin: Admin, registry: Registry, request: Request) -> Response:
    before = _audited(await _previous(registry, name))
    await run_in_threadpool(registry.delete, name)
    entry = AuditEntry(
        at=utc_now(), actor=admin.user_id, action="delete_mcp_server", target=f"mcp:{name}", before=before
    )
    await run_in_threadpool(record_audit, request, entry)
    return Response(status_code=204)


async def _tools_of(registry: McpRegistry, servers: list[McpServer]) -> ToolsListing:
    listing = ToolsListing(tools=[])
    for server in servers:
        connection = await run_in_threadpool(registry.connection, server.name)
        try:
            tools = await mcp_client.list_tools(connection)
        except ToolServerError as exc:
            listing.unavailable[server.name] = str(exc)
            continue
        listing.tools.extend(
            ToolInfo(
                server=server.name, name=tool.name, description=tool.description, parameters=tool.parameters
            )
            for tool in tools
        )
    return listing


@router.get("/mcp-servers/{name}/tools")
async def server_tools(name: str, admin: Admin, registry: Registry) -> ToolsListing:
    return await _tools_of(registry, [await run_in_threadpool(registry.get, name)])


@router.get("/tools")
async def my_tools(caller: CallerDep, registry: Registry) -> ToolsListing:
    """The tools of every server published to the caller's roles."""
    servers = [
        server for server in await run_in_threadpool(registry.list) if server.published_to(caller.roles)
    ]
    with anyio.fail_after(60):
        return await _tools_of(registry, servers)


async def chat_toolbox(request: Request, caller: Caller, body: ChatRequest) -> Toolbox | None:
    """The tools a chat named ("server/tool"), from servers published to the caller, with a
    runner that calls those servers only; None when it named none. Raises before anything is saved."""
    if not body.tools:
        return None
    registry = mcp_registry(request)
    published = {s.name: s for s in await run_in_threadpool(registry.list) if s.published_to(caller.roles)}
    wanted: dict[str, set[str]] = {}
    for qualified in body.tools:
        server, _, tool = qualified.partition("/")
        if server not in published or not tool:
            raise InvalidRequestError(
                f"{qualified!r} is not a tool you can use: name it as server/tool, from GET /tools."
            )
        wanted.setdefault(server, set()).add(tool)
    connections = {name: await run_in_threadpool(registry.connection, name) for name in wanted}
    specs: list[ToolSpec] = []
    for name, tools in wanted.items():
        offered = {tool.name: tool for tool in await mcp_client.list_tools(connections[name])}
        if missing := tools - set(offered):
            raise InvalidRequestError(f"The MCP server {name!r} has no tool {sorted(missing)[0]!r}.")
        specs.extend(offered[tool] for tool in sorted(tools))
    try:
        tools_request = ToolRequest(tools=specs, choice=_choice(body.tool_choice))
    except ValidationError as exc:
        raise InvalidRequestError(f"tools: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    return Toolbox(tools_request, McpToolRunner(connections))


def _choice(tool_choice: str) -> ToolChoice:
    if tool_choice in ("auto", "none"):
        return ToolChoice(mode="auto" if tool_choice == "auto" else "none")
    if tool_choice == "required":
        return ToolChoice(mode="any")
    return ToolChoice(mode="tool", name=tool_choice.partition("/")[2] or tool_choice)
