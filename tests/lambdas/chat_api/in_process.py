"""The real chat API app in this process (FastAPI's TestClient), on a database of its own, with
local accounts and blobs, documents off and no model server: for routes that need no model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chatbot.api.local_tokens import local_secret
from chatbot.api.users import UsersFile
from chatbot.postgres import create_database
from lambdas.chat_api.app import create_app
from lambdas.chat_api.auth import LocalTokens


@dataclass
class InProcessApi:
    app: FastAPI
    client: TestClient
    tokens: LocalTokens
    users: UsersFile

    def as_user(self, user: str, *roles: str) -> TestClient:
        """The client, now calling as `user` (with an account's token)."""
        self.client.headers["Authorization"] = f"Bearer {self.tokens.issue(user, roles=roles)}"
        return self.client


@contextmanager
def in_process_api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, postgres_server_url: str, database: str
) -> Iterator[InProcessApi]:
    for name, value in {
        "CHATBOT_MODELS_FILE": "models.yaml",
        "DATABASE_URL": create_database(postgres_server_url, database),
        "CHATBOT_DATA_DIR": str(tmp_path / "data"),
        "CHATBOT_LOCAL_SECRET_FILE": str(tmp_path / "secret"),
        "CHATBOT_USERS_FILE": str(tmp_path / "users.yaml"),
        "CHATBOT_DOCUMENTS": "off",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("SAGEMAKER_ENDPOINT_URL", "DOCUMENTS_BUCKET", "CHATBOT_HISTORY_TABLE"):
        monkeypatch.delenv(name, raising=False)
    app = create_app()
    with TestClient(app) as client:
        yield InProcessApi(
            app, client, LocalTokens(local_secret(tmp_path / "secret")), UsersFile(tmp_path / "users.yaml")
        )
