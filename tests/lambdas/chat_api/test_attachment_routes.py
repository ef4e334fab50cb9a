"""POST /attachments and attachments in POST /chat (issue 23), in-process with the real app,
auth, Postgres store and local blob store, the models scripted (tests/scripted_endpoint.py):
upload, chat, the reference on the saved message, and each refusal's status and message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chatbot.api.local_tokens import local_secret
from chatbot.chat.service import ChatService
from chatbot.models.catalog import ModelCatalog
from chatbot.postgres import create_database
from lambdas.chat_api.app import create_app
from lambdas.chat_api.auth import LocalTokens
from tests.scripted_endpoint import Scripts

SMOL = "smollm2-135m"
_databases = iter(range(1_000_000))


@pytest.fixture
def scripts() -> Scripts:
    return Scripts({SMOL: ["Noted", "."]})


@pytest.fixture
def app_client(
    monkeypatch, tmp_path: Path, postgres_server_url: str, catalog: ModelCatalog, scripts: Scripts
) -> Iterator[tuple[TestClient, LocalTokens]]:
    database = create_database(postgres_server_url, f"attachment_routes_{next(_databases)}")
    for name, value in {
        "CHATBOT_MODELS_FILE": "models.yaml",
        "DATABASE_URL": database,
        "CHATBOT_DATA_DIR": str(tmp_path / "data"),
        "CHATBOT_LOCAL_SECRET_FILE": str(tmp_path / "secret"),
        "CHATBOT_USERS_FILE": str(tmp_path / "users.yaml"),
        "CHATBOT_DOCUMENTS": "off",
        "CHATBOT_MAX_ATTACHMENT_MB": "0.015625",  # 16 KB
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SAGEMAKER_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("DOCUMENTS_BUCKET", raising=False)
    app = create_app()
    with TestClient(app) as client:
        real = app.state.service
        app.state.service = ChatService(catalog, scripts, real.store, attachments=real.turns.attachments)
        yield client, LocalTokens(local_secret(tmp_path / "secret"))


def as_user(app_client, user: str) -> TestClient:
    client, tokens = app_client
    client.headers["Authorization"] = f"Bearer {tokens.issue(user)}"
    return client


def ndjson(response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines() if line]


def attach(client: TestClient, name: str, data: bytes):
    return client.post("/attachments", files={"file": (name, data, "application/octet-stream")})


def test_an_attached_file_reaches_the_prompt_and_the_saved_question_shows_it(app_client, scripts):
    client = as_user(app_client, "alice")
    uploaded = attach(client, "plan.txt", b"The code word is HELIOTROPE.")
    assert uploaded.status_code == 201
    ref = uploaded.json()
    assert {k: ref[k] for k in ("name", "content_type", "size")} == {
        "name": "plan.txt",
        "content_type": "text/plain",
        "size": 28,
    }
    assert client.get(f"/attachments/{ref['id']}").json() == ref

    response = client.post("/chat", json={"model": SMOL, "message": "Code word?", "attachments": [ref["id"]]})
    assert response.status_code == 200
    events = ndjson(response)
    assert [s["document_name"] for e in events if e["type"] == "sources" for s in e["sources"]] == [
        "plan.txt"
    ]
    assert "HELIOTROPE" in json.dumps(scripts.endpoints[SMOL].calls[-1].prompt)
    question = client.get(f"/sessions/{events[0]['session_id']}").json()["messages"][0]
    assert question["attachments"] == [ref]


def test_an_oversized_file_gets_a_413_that_says_the_limit(app_client):
    client = as_user(app_client, "alice")
    response = attach(client, "big.txt", b"a" * (16 * 1024 + 1))
    assert response.status_code == 413
    assert "limited to 16 KB" in response.json()["error"]["message"]
    far_over = attach(client, "huge.txt", b"a" * (200 * 1024))  # past the body limit: never read whole
    assert far_over.status_code == 413
    assert "bytes" in far_over.json()["error"]["message"]


def test_a_file_of_a_kind_not_taken_gets_a_415(app_client):
    response = attach(as_user(app_client, "alice"), "tool.exe", b"MZ\x90\x00")
    assert response.status_code == 415
    assert ".txt" in response.json()["error"]["message"]


def test_an_unreadable_file_gets_a_422(app_client):
    response = attach(as_user(app_client, "alice"), "photo.txt", b"\x89PNG\r\n\x1a\n\x00binary")
    assert response.status_code == 422


def test_someone_elses_attachment_is_a_404_and_nothing_is_saved(app_client):
    ref = attach(as_user(app_client, "bob"), "secret.txt", b"Bob's secret.").json()
    client = as_user(app_client, "alice")
    assert client.get(f"/attachments/{ref['id']}").status_code == 404
    response = client.post("/chat", json={"model": SMOL, "message": "Read", "attachments": [ref["id"]]})
    assert response.status_code == 404
    assert client.get("/sessions").json()["sessions"] == []


def test_files_too_long_for_the_models_window_get_a_422_saying_by_how_much(app_client, scripts):
    client = as_user(app_client, "alice")
    ref = attach(client, "book.txt", b"word " * 3000).json()  # about 5000 tokens; the window is 2048
    response = client.post("/chat", json={"model": SMOL, "message": "Summarise", "attachments": [ref["id"]]})
    assert response.status_code == 422
    assert "tokens too many" in response.json()["error"]["message"]
    assert SMOL not in scripts.endpoints or not scripts.endpoints[SMOL].calls


def test_an_id_that_is_not_an_attachment_id_gets_a_422(app_client):
    client = as_user(app_client, "alice")
    response = client.post(
        "/chat", json={"model": SMOL, "message": "Hi", "attachments": ["../../etc/passwd"]}
    )
    assert response.status_code == 422
