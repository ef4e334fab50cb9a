"""Administrators' changes to MCP servers are in the audit log (issue 21): who, when, the server
before and after, and never its secret, not even a key in its URL's query string. In-process on
the real app and Postgres registry; registering a server does not call it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lambdas.chat_api.in_process import InProcessApi, in_process_api

SECRET = "Bearer very-secret-token"
URL_KEY = "url-key-that-is-secret"
_databases = iter(range(1_000_000))


@pytest.fixture
def api(monkeypatch, tmp_path: Path, postgres_server_url: str) -> Iterator[InProcessApi]:
    with in_process_api(monkeypatch, tmp_path, postgres_server_url, f"mcp_audit_{next(_databases)}") as api:
        api.users.add("root", "roots password")  # the first account: an administrator
        yield api


def test_creating_publishing_updating_and_deleting_a_server_are_each_recorded(api: InProcessApi):
    root = api.as_user("root", "admin")
    url = f"https://tools.example.com/mcp?key={URL_KEY}"
    server = {"url": url, "auth_header": "Authorization", "secret": SECRET}
    assert root.put("/mcp-servers/calc", json=server).status_code == 200
    assert (
        root.put("/mcp-servers/calc", json={**server, "secret": None, "roles": ["everyone"]}).status_code
        == 200
    )
    assert root.put("/mcp-servers/calc", json={**server, "allow_private": True}).status_code == 200
    assert root.delete("/mcp-servers/calc").status_code == 204

    audit = [e for e in root.get("/admin/audit").json() if e["target"] == "mcp:calc"]

    assert [e["action"] for e in reversed(audit)] == [
        "create_mcp_server",
        "publish_mcp_server",
        "update_mcp_server",
        "delete_mcp_server",
    ]
    assert {e["actor"] for e in audit} == {"root"}
    created, published = audit[-1], audit[-2]
    assert created["before"] == {}
    assert created["after"] == {
        "url": "https://tools.example.com/mcp",
        "auth_header": "Authorization",
        "has_secret": True,
        "allow_private": False,
        "roles": ["admin"],
        "secret_changed": True,
    }
    assert (published["before"]["roles"], published["after"]["roles"]) == (["admin"], ["everyone"])
    assert published["after"]["secret_changed"] is False
    assert audit[0]["after"] == {}
    assert audit[0]["before"]["allow_private"] is True
    for export in (root.get("/admin/audit").text, root.get("/admin/audit", params={"format": "csv"}).text):
        assert "very-secret-token" not in export
        assert URL_KEY not in export
