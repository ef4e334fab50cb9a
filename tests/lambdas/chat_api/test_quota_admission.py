"""Quotas in the answer path: every chat, each lane of a compare and every /v1 call reserves on
the ledger at admit, is clipped to what remains, settles to its true count, and is refused with a
429 (OpenAI's shape on /v1) once nothing remains. Scripted models, the real app and Postgres."""

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

BUDGET = 10_000
_databases = iter(range(1_000_000))


@pytest.fixture
def scripts() -> Scripts:
    return Scripts({"smollm2-135m": ["word"] * 40, "gemma3-270m": ["Hi", "!"]})


@pytest.fixture
def app_client(
    monkeypatch, tmp_path: Path, postgres_server_url: str, catalog: ModelCatalog, scripts: Scripts
) -> Iterator[tuple[TestClient, LocalTokens]]:
    database = create_database(postgres_server_url, f"quota_admission_{next(_databases)}")
    for name, value in {
        "CHATBOT_MODELS_FILE": "models.yaml",
        "DATABASE_URL": database,
        "CHATBOT_LOCAL_SECRET_FILE": str(tmp_path / "secret"),
        "CHATBOT_USERS_FILE": str(tmp_path / "users.yaml"),
        "CHATBOT_DOCUMENTS": "off",
        "CHATBOT_LIMITS": json.dumps({"user": {"tokens_per_day": BUDGET}}),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SAGEMAKER_ENDPOINT_URL", raising=False)
    app = create_app()
    with TestClient(app) as client:
        app.state.service = ChatService(catalog, scripts, app.state.service.store)
        yield client, LocalTokens(local_secret(tmp_path / "secret"))


def signed_in(app_client, user: str) -> TestClient:
    client, tokens = app_client
    client.headers["Authorization"] = f"Bearer {tokens.issue(user)}"
    return client


def spend_all_but(client: TestClient, user: str, left: int) -> None:
    quotas = client.app.state.quotas
    used = quotas.used(f"user:{user}", _today_period())
    held = quotas.admit(user, model="elsewhere", prompt_tokens=0, max_new_tokens=BUDGET - int(used) - left)
    quotas.settle(held, 0, held.max_new_tokens)


def _today_period() -> str:
    from datetime import UTC, datetime

    return f"day:{datetime.now(UTC):%Y-%m-%d}"


def test_a_chat_counts_its_true_tokens(app_client):
    client = signed_in(app_client, "alice")
    response = client.post("/chat", json={"model": "gemma3-270m", "message": "Hi"})
    assert response.status_code == 200
    usage = client.get("/usage", params={"period": "day"}).json()
    assert [(m["model"], m["answers"]) for m in usage["by_model"]] == [("gemma3-270m", 1)]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (7, 2), "the server's counts"
    tokens = next(s for s in usage["standing"] if s["limit"] == "tokens_per_day")
    assert tokens["used"] == 9, "the hold became the true count"


def test_each_lane_of_a_compare_counts(app_client):
    client = signed_in(app_client, "bob")
    models = ["gemma3-270m", "gemma3-270m", "smollm2-135m"]
    assert client.post("/compare", json={"models": models, "message": "Hi"}).status_code == 200
    usage = client.get("/usage").json()
    assert {m["model"]: m["answers"] for m in usage["by_model"]} == {"gemma3-270m": 2, "smollm2-135m": 1}


def test_an_answer_is_clipped_to_what_remains_then_refused_with_what_remains_and_when(
    app_client, scripts: Scripts
):
    client = signed_in(app_client, "carol")
    spend_all_but(client, "carol", 60)
    response = client.post("/chat", json={"model": "smollm2-135m", "message": "Hi"})
    assert response.status_code == 200
    call = scripts.endpoints["smollm2-135m"].calls[-1]
    assert 0 < call.params.max_new_tokens < 60, "clipped: the prompt's estimate took the rest"
    assert call.tokens_sent == call.params.max_new_tokens
    standing = next(s for s in client.get("/usage").json()["standing"] if s["limit"] == "tokens_per_day")
    assert standing["used"] <= BUDGET

    spend_all_but(client, "carol", 0)
    sessions_before = client.get("/sessions").json()["sessions"]
    refused = client.post("/chat", json={"model": "smollm2-135m", "message": "Hi"})
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["code"], error["limit"], error["remaining"]) == ("quota_exceeded", "tokens_per_day", 0)
    assert error["resets_at"].endswith("T00:00:00+00:00")
    assert 0 < int(refused.headers["Retry-After"]) <= 86400
    assert client.get("/sessions").json()["sessions"] == sessions_before, "nothing saved"

    gateway = client.post(
        "/v1/chat/completions",
        json={"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert gateway.status_code == 429
    assert gateway.json()["error"]["type"] == "insufficient_quota"
    assert gateway.json()["error"]["param"] == "tokens_per_day"
    assert "Retry-After" in gateway.headers


def test_a_v1_call_with_a_key_counts_on_the_key_and_the_keys_own_limits_apply(app_client):
    client = signed_in(app_client, "dora")
    created = client.post("/api-keys", json={"name": "laptop"}).json()
    key_id = created["info"]["id"]
    assert client.put(f"/usage/keys/{key_id}/limits", json={"requests_per_minute": 1}).status_code == 200
    with_key = {"Authorization": f"Bearer {created['key']}"}
    body = {"model": "gemma3-270m", "messages": [{"role": "user", "content": "Hi"}]}
    assert client.post("/v1/chat/completions", json=body, headers=with_key).status_code == 200
    limited = client.post("/v1/chat/completions", json=body, headers=with_key)
    assert limited.status_code == 429
    assert limited.json()["error"]["type"] == "rate_limit_exceeded"
    keys = client.get("/usage/keys").json()
    assert [(k["key_id"], k["answers"], k["completion_tokens"]) for k in keys] == [(key_id, 1, 2)]
    assert client.post("/v1/chat/completions", json=body).status_code == 200, (
        "the user's own calls are not the key's"
    )
