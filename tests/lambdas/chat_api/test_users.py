"""/users: administrators manage the local accounts; the role is checked by the API itself."""

from __future__ import annotations

from pathlib import Path

import httpx

from chatbot.api.users import UsersFile
from lambdas.chat_api.auth import LocalTokens


def client(api_url: str, tokens: LocalTokens, user: str, roles: tuple[str, ...] = ()) -> httpx.Client:
    token = tokens.issue(user, roles=roles)
    return httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_an_administrator_adds_resets_lists_and_removes_users(
    api_url: str, tokens: LocalTokens, secret_file: Path
):
    users = UsersFile(secret_file.parent / "users.yaml")
    users.add("root", "roots password")  # the first account, an administrator
    with client(api_url, tokens, "root", ("admin",)) as admin:
        added = admin.put("/users/Grace", json={"password": "graces password", "admin": True})
        assert added.status_code == 200, added.text
        assert added.json() == {"user": {"name": "grace", "admin": True}, "created": True}
        assert (
            admin.put("/users/henry", json={"password": "henrys password"}).json()["user"]["admin"] is False
        )
        reset = admin.put("/users/henry", json={"password": "a new password"}).json()
        assert reset["created"] is False
        assert users.check("henry", "a new password")
        assert {"name": "henry", "admin": False} in admin.get("/users").json()
        assert admin.delete("/users/henry").status_code == 204
        assert admin.delete("/users/grace").status_code == 204
        assert users.names() == ["root"]
        last = admin.delete("/users/root")
        assert last.status_code == 422
        assert "last administrator" in last.json()["error"]["message"]
        short = admin.put("/users/ivy", json={"password": "short"})
        assert short.status_code == 422
        assert "password" in short.json()["error"]["message"]


def test_anyone_else_is_refused_whatever_they_send(api_url: str, tokens: LocalTokens, secret_file: Path):
    UsersFile(secret_file.parent / "users.yaml").add("mallory", "mallorys password")  # not an administrator
    before = UsersFile(secret_file.parent / "users.yaml").names()
    with client(api_url, tokens, "mallory") as mallory:
        for attempt in (
            mallory.get("/users"),
            mallory.put("/users/mallory", json={"password": "i am admin now", "admin": True}),
            mallory.delete("/users/grace"),
        ):
            assert attempt.status_code == 403
            assert attempt.json()["error"] == {
                "code": "forbidden",
                "message": "Only an administrator can do this. Ask one to do it for you.",
            }
    assert UsersFile(secret_file.parent / "users.yaml").names() == before


def test_a_removed_administrator_manages_nobody_though_their_token_has_not_expired(
    api_url: str, tokens: LocalTokens, secret_file: Path
):
    users = UsersFile(secret_file.parent / "users.yaml")
    users.add("root", "roots password", admin=True)
    users.add("olga", "olgas password", admin=True)
    with client(api_url, tokens, "olga", ("admin",)) as olga:
        assert olga.get("/users").status_code == 200
        users.remove("olga")  # by another administrator
        for attempt in (
            olga.get("/users"),
            olga.put("/users/olga", json={"password": "back again, as admin", "admin": True}),
            olga.delete("/users/root"),
        ):
            # Refused as a caller at all: the account is gone (tests/security/test_removed_users.py).
            assert attempt.status_code == 401
            assert attempt.json()["error"]["code"] == "unauthorized"
    assert "olga" not in users.names()
