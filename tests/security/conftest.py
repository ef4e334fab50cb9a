"""The attacks run against the real chat API and model server, through the chat API tests' own
fixtures (a real API process on Postgres, configured as `make chat` configures it). The callers
are accounts of the API's users file, as the web app's are."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from chatbot.api.users import UsersFile
from lambdas.chat_api.auth import LocalTokens
from tests.lambdas.chat_api.conftest import api_database, api_url, secret_file, tokens

__all__ = ["api_database", "api_url", "member", "secret_file", "signed_in", "tokens", "users"]

PASSWORD = "a member's password"


@pytest.fixture(scope="module")
def users(secret_file: Path) -> UsersFile:
    """The users file the API checks (CHATBOT_USERS_FILE of the `api_url` fixture)."""
    return UsersFile(secret_file.parent / "users.yaml")


@pytest.fixture
def member(api_url: str, tokens: LocalTokens, users: UsersFile) -> Iterator[Callable[..., httpx.Client]]:
    """`member("alice", admin=True)`: a client signed in as that account, made if it is new."""
    clients: list[httpx.Client] = []

    def signed_in(name: str, *, admin: bool = False) -> httpx.Client:
        if name not in users.names():
            users.add(name, PASSWORD, admin=admin)
        token = tokens.issue(name, roles=["admin"] if admin else [])
        clients.append(
            client := httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        )
        return client

    yield signed_in
    for client in clients:
        client.close()


@pytest.fixture
def signed_in(member: Callable[..., httpx.Client]) -> Callable[..., httpx.Client]:
    """The same as `member`, by the name the document attacks read best with."""
    return member
