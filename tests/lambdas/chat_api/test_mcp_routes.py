"""MCP servers through the chat API: administrators register them (the secret goes in, never
out), users list the tools of the servers published to their roles; a real MCP calculator on
127.0.0.1 answers, and the address guard refuses it until an administrator allows private ranges."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatbot.api.users import UsersFile
from lambdas.chat_api.auth import LocalTokens
from launcher.processes import free_port
from tests.chatbot.tools.mcp_calculator import running_calculator

SECRET = "Bearer calculator-secret-123"


def client(api_url: str, tokens: LocalTokens, user: str, roles: tuple[str, ...] = ()) -> httpx.Client:
    token = tokens.issue(user, roles=roles)
    return httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


@pytest.fixture(scope="module")
def calculator_url() -> Iterator[str]:
    with running_calculator() as url:
        yield url


@pytest.fixture
def root(api_url: str, tokens: LocalTokens, secret_file: Path) -> Iterator[httpx.Client]:
    users = UsersFile(secret_file.parent / "users.yaml")
    users.add("root", "roots password", admin=True)
    for name in ("ann", "bob"):  # callers' accounts must stand
        users.add(name, f"{name}s password")
    with client(api_url, tokens, "root", ("admin",)) as admin:
        yield admin


def register(root: httpx.Client, name: str, url: str, **fields) -> httpx.Response:
    return root.put(f"/mcp-servers/{name}", json={"url": url, **fields})


def test_an_administrator_registers_a_server_whose_secret_never_comes_back(
    root: httpx.Client, calculator_url: str
):
    response = register(
        root, "calc", calculator_url, auth_header="Authorization", secret=SECRET, allow_private=True
    )
    assert response.status_code == 200, response.text
    assert response.json()["has_secret"] is True
    assert response.json()["roles"] == ["admin"], "administrators only, by default"
    listed = root.get("/mcp-servers")
    assert [server["name"] for server in listed.json()] == ["calc"]
    assert SECRET not in listed.text
    assert SECRET not in response.text
    tools = root.get("/mcp-servers/calc/tools").json()
    assert {tool["name"] for tool in tools["tools"]} == {"add", "shout"}
    assert root.delete("/mcp-servers/calc").status_code == 204
    assert root.get("/mcp-servers").json() == []


def test_users_see_only_the_tools_of_servers_published_to_their_roles(
    root: httpx.Client, api_url: str, tokens: LocalTokens, calculator_url: str
):
    assert register(root, "calc", calculator_url, allow_private=True).status_code == 200
    try:
        with client(api_url, tokens, "bob") as bob:
            assert bob.get("/tools").json() == {"tools": [], "unavailable": {}}, "administrators only"
            assert (
                register(root, "calc", calculator_url, allow_private=True, roles=["everyone"]).status_code
                == 200
            )
            assert {tool["name"] for tool in bob.get("/tools").json()["tools"]} == {"add", "shout"}
            assert bob.get("/mcp-servers").status_code == 403
            assert bob.put("/mcp-servers/mine", json={"url": "https://example.com/mcp"}).status_code == 403
    finally:
        root.delete("/mcp-servers/calc")


def test_a_private_address_is_refused_unless_allowed_and_a_down_server_is_named(
    root: httpx.Client, calculator_url: str
):
    assert register(root, "internal", calculator_url).status_code == 200
    assert (
        register(root, "gone", f"http://127.0.0.1:{free_port()}/mcp", allow_private=True).status_code == 200
    )
    try:
        listing = root.get("/tools").json()
        assert listing["tools"] == []
        assert "private or local address" in listing["unavailable"]["internal"]
        assert "'gone'" in listing["unavailable"]["gone"]
    finally:
        root.delete("/mcp-servers/internal")
        root.delete("/mcp-servers/gone")


@pytest.mark.parametrize(
    "body",
    [
        {"url": "file:///etc/passwd"},
        {"url": "https://user:pass@example.com/mcp"},
        {"url": "https://example.com/mcp", "auth_header": "Bad Header"},
    ],
)
def test_bad_registrations_are_422s(root: httpx.Client, body: dict):
    response = root.put("/mcp-servers/bad", json=body)
    assert response.status_code == 422, response.text


def test_a_bad_server_name_is_a_422(root: httpx.Client):
    assert root.put("/mcp-servers/Bad_Name", json={"url": "https://example.com/mcp"}).status_code == 422
