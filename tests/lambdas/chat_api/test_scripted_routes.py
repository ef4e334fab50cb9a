"""The chat API's routes over scripted models (tests/scripted_endpoint.py): the logic of the
/chat, /compare and /v1 gateway routes, in-process, with the real app, auth, Postgres store and
stream leases. The same routes on the real models are in test_app.py and test_gateway.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from fastapi.testclient import TestClient

from chatbot.api.local_tokens import local_secret
from chatbot.chat.service import ChatService
from chatbot.errors import ModelThrottledError
from chatbot.models.catalog import ModelCatalog
from chatbot.postgres import create_database
from lambdas.chat_api.app import create_app
from lambdas.chat_api.auth import LocalTokens
from tests.scripted_endpoint import Fail, Scripts

CAP = 2
_databases = iter(range(1_000_000))


@pytest.fixture
def scripts() -> Scripts:
    busy = ModelThrottledError("gemma3-270m is busy right now. Try again in a moment.")
    return Scripts(
        {"smollm2-135m": ["Paris", " is", " the", " capital", "."], "gemma3-270m": ["So", Fail(busy)]}
    )


@pytest.fixture
def client(
    monkeypatch, tmp_path: Path, postgres_server_url: str, catalog: ModelCatalog, scripts: Scripts
) -> Iterator[TestClient]:
    """The real app as `make chat` configures it, its service's models scripted, signed in as alice."""
    database = create_database(postgres_server_url, f"scripted_routes_{next(_databases)}")
    for name, value in {
        "CHATBOT_MODELS_FILE": "models.yaml",
        "DATABASE_URL": database,
        "CHATBOT_LOCAL_SECRET_FILE": str(tmp_path / "secret"),
        "CHATBOT_USERS_FILE": str(tmp_path / "users.yaml"),
        "CHATBOT_DOCUMENTS": "off",
        "CHATBOT_MAX_STREAMS_PER_USER": str(CAP),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SAGEMAKER_ENDPOINT_URL", raising=False)
    app = create_app()
    with TestClient(app) as client:
        app.state.service = ChatService(catalog, scripts, app.state.service.store)
        token = LocalTokens(local_secret(tmp_path / "secret")).issue("alice")
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def ndjson(response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines() if line]


def test_chat_streams_its_events_and_saves_the_turn(client: TestClient):
    response = client.post("/chat", json={"model": "smollm2-135m", "message": "Capital of France?"})
    assert response.status_code == 200
    events = ndjson(response)
    assert [e["type"] for e in events] == ["session", "start", *["token"] * 5, "done"]
    messages = client.get(f"/sessions/{events[0]['session_id']}").json()["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "Capital of France?"),
        ("assistant", "Paris is the capital."),
    ]


def test_a_compare_needing_more_streams_than_the_cap_is_a_429_that_saves_nothing(client: TestClient):
    models = ["smollm2-135m", "gemma3-270m", "smollm2-135m"]  # three lanes, three leases; the cap is 2
    response = client.post("/compare", json={"models": models, "message": "Hi"})
    assert response.status_code == 429
    assert "at once" in response.json()["error"]["message"]
    assert client.get("/sessions").json()["sessions"] == []


def test_too_many_panes_are_a_422_not_a_429(client: TestClient):
    response = client.post("/compare", json={"models": ["smollm2-135m"] * 5, "message": "Hi"})
    assert response.status_code == 422


def test_a_lane_that_fails_part_way_says_so_and_the_other_lane_answers(client: TestClient):
    response = client.post("/compare", json={"models": ["smollm2-135m", "gemma3-270m"], "message": "Hi"})
    events = ndjson(response)
    assert {(e["lane"], e["code"]) for e in events if e["type"] == "error"} == {("b", "model_busy")}
    assert [e["lane"] for e in events if e["type"] == "done"] == ["a"]


def openai_client(client: TestClient) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{client.base_url}/v1",
        api_key=client.headers["Authorization"].removeprefix("Bearer "),
        http_client=client,
        max_retries=0,
    )


def test_v1_answers_whole_with_usage(client: TestClient):
    completion = openai_client(client).chat.completions.create(
        model="smollm2-135m", messages=[{"role": "user", "content": "Capital of France?"}]
    )
    assert completion.choices[0].message.content == "Paris is the capital."
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7, 5)


def test_v1_streams_chunks_then_usage(client: TestClient):
    stream = openai_client(client).chat.completions.create(
        model="smollm2-135m",
        messages=[{"role": "user", "content": "Capital of France?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "Paris is the capital."
    assert chunks[-1].usage.completion_tokens == 5


def test_v1_a_model_failing_is_an_error_with_its_own_status(client: TestClient):
    with pytest.raises(openai.RateLimitError, match="busy"):
        openai_client(client).chat.completions.create(
            model="gemma3-270m", messages=[{"role": "user", "content": "Hi"}]
        )


def test_v1_counts_a_keys_tokens_and_saves_only_when_asked(client: TestClient):
    created = client.post("/api-keys", json={"name": "ci"}).json()
    with_key = {"Authorization": f"Bearer {created['key']}"}
    request = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Capital?"}]}
    assert client.post("/v1/chat/completions", json=request, headers=with_key).status_code == 200
    assert client.get("/sessions").json()["sessions"] == []
    stored = {**request, "store": True}
    assert client.post("/v1/chat/completions", json=stored, headers=with_key).status_code == 200
    [info] = [info for info in client.get("/api-keys").json() if info["name"] == "ci"]
    assert (info["requests"], info["prompt_tokens"], info["completion_tokens"]) == (2, 14, 10)
    [session] = client.get("/sessions").json()["sessions"]
    assert session["title"] == "Capital?"


def test_v1_refuses_a_wrong_key_and_an_unknown_model_in_openais_shape(client: TestClient):
    wrong = client.post(
        "/v1/chat/completions",
        json={"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}]},
        headers={"Authorization": "Bearer sk-chatbot-wrong"},
    )
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "invalid_api_key")
    with pytest.raises(openai.NotFoundError) as error:
        openai_client(client).chat.completions.create(
            model="gpt-9", messages=[{"role": "user", "content": "Hi"}]
        )
    assert error.value.body["code"] == "model_not_found"


@pytest.mark.parametrize(
    "request_fields",
    [{"temperature": 5}, {"max_tokens": 5000}, {"messages": [{"role": "assistant", "content": "Hi"}]}],
    ids=["a temperature out of bounds", "more tokens than the model allows", "no user message last"],
)
def test_v1_bad_requests_are_400s_and_call_no_model(
    client: TestClient, scripts: Scripts, request_fields: dict
):
    request = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}], **request_fields}
    with pytest.raises(openai.BadRequestError):
        openai_client(client).chat.completions.create(**request)
    assert all(not endpoint.calls for endpoint in scripts.endpoints.values())
