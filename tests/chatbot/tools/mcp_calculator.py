"""A real MCP server for tests: the `mcp` package's MCPServer (FastMCP's name since mcp 2) with a
calculator tool, over streamable HTTP on 127.0.0.1, in a thread of the test process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from mcp.server.mcpserver import MCPServer

from launcher.processes import free_port
from tests.waiting import eventually


def calculator() -> MCPServer:
    server = MCPServer("calculator")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def shout(text: str) -> str:
        """Repeat a text many times (a result larger than any cap)."""
        return text * 10_000

    return server


@contextmanager
def running_calculator() -> Iterator[str]:
    """The server's MCP URL while it runs."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(calculator().streamable_http_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/mcp"

    def answering() -> bool:
        try:
            httpx.get(url, timeout=1)
        except httpx.HTTPError:
            return False
        return True

    eventually(answering, bool)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
