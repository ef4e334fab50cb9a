"""Aurora Serverless v2 at 0 ACU pauses when idle; the first connection after that waits while it
resumes (about 15 s, 30 s after a long pause). The real `create_app()` runs here as in AWS
(DynamoDB history under moto, migrations done by the deploy) against a stand-in for a paused
database: a listener that takes connections but says nothing until it is woken, then passes them
to a real PostgreSQL. The wait is a setting (DB_WAKE_WAIT_S), scaled down so the test is quick;
no assertion is about time."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from chatbot.api.local_tokens import local_secret
from chatbot.chat.dynamodb_store import TABLE_SCHEMA
from chatbot.postgres import create_database
from chatbot.retrieval.embedders import MINILM_DIMENSION, MINILM_NAME
from chatbot.retrieval.store import migrate_store
from lambdas.chat_api.app import create_app
from lambdas.chat_api.auth import LocalTokens

WAKE_WAIT_S = 3


class PausedDatabase:
    """Accepts TCP connections and holds them, silent, until `wake()`; then relays each to the
    real server. Counts the connections it was offered."""

    def __init__(self, upstream_socket: str):
        #: The real server's Unix socket (the embedded server listens on one only).
        self.upstream = upstream_socket
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.awake = threading.Event()
        self.offered = threading.Semaphore(0)
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.offered.release()
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        self.awake.wait()
        try:
            server = socket.socket(socket.AF_UNIX)
            server.connect(self.upstream)
        except OSError:
            client.close()
            return

        def pipe(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                sink.close()

        threading.Thread(target=pipe, args=(server, client), daemon=True).start()
        pipe(client, server)

    def wake(self) -> None:
        self.awake.set()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def database_url(postgres_server_url: str) -> str:
    """A database the deploy has migrated (as the one-shot migration function does in AWS)."""
    url = create_database(postgres_server_url, "database_wake_up_tests")
    migrate_store(url, embedding_model=MINILM_NAME, dimension=MINILM_DIMENSION)
    return url


@pytest.fixture
def paused(database_url: str) -> Iterator[PausedDatabase]:
    parts = urlsplit(database_url)
    folder = parse_qs(parts.query)["host"][0]
    database = PausedDatabase(f"{folder}/.s.PGSQL.{parts.port or 5432}")
    yield database
    database.wake()  # let any held connection finish
    database.close()


@pytest.fixture
def app_client(
    paused: PausedDatabase, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    parts = urlsplit(database_url)
    through_listener = f"postgresql://{parts.username}@127.0.0.1:{paused.port}{parts.path}"
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "CHATBOT_MODELS_FILE": "models.yaml",
        "CHATBOT_HISTORY_TABLE": "history",
        "CHATBOT_LOCAL_SECRET_FILE": str(tmp_path / "local-auth-secret"),
        "CHATBOT_USERS_FILE": str(tmp_path / "users.yaml"),
        "DATABASE_URL": through_listener,
        "DB_MIGRATIONS": "deploy",
        "DB_WAKE_WAIT_S": str(WAKE_WAIT_S),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(TableName="history", **TABLE_SCHEMA)
        with TestClient(create_app()) as client:
            token = LocalTokens(local_secret(tmp_path / "local-auth-secret")).issue("alice")
            client.headers["Authorization"] = f"Bearer {token}"
            yield client


def test_a_cold_start_and_routes_without_the_database_never_touch_a_paused_one(
    app_client: TestClient, paused: PausedDatabase
):
    assert app_client.get("/health").status_code == 200
    models = app_client.get("/models")
    assert models.status_code == 200, models.text
    assert models.json(), "the catalog answers without the database"
    assert paused.connections == 0, "start-up and /models woke the database"


def test_a_request_that_needs_the_database_waits_out_its_resume(
    app_client: TestClient, paused: PausedDatabase
):
    answers: list = []
    request = threading.Thread(target=lambda: answers.append(app_client.get("/documents")))
    request.start()
    assert paused.offered.acquire(timeout=60), "the request never tried to connect"
    paused.wake()  # the cluster finishes resuming while the request waits
    request.join()
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json() == []


def test_a_database_still_asleep_after_the_wait_is_a_503_saying_so_with_retry_after(
    app_client: TestClient, paused: PausedDatabase
):
    answer = app_client.get("/documents")
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["code"] == "database_waking_up"
    assert "The database is waking up" in error["message"]
    assert int(answer.headers["Retry-After"]) > 0
    assert paused.connections >= 1
