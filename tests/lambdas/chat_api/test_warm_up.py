"""A scale-to-zero model with no copy running (issue 19): the real chat API answers 503
`model_warming_up` with Retry-After BEFORE any stream opens, and saves nothing; the same request
works once the model is up. The model is the local model server behind the local stand-in for
SageMaker's cold start (chatbot/models/cold_start.py), which refuses as SageMaker does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from chatbot.api.local_tokens import local_secret
from chatbot.api.users import UsersFile
from lambdas.chat_api.auth import LocalTokens
from tests.lambdas.chat_api.conftest import api_env, client_for
from tests.servers import ROOT, chat_api_server

#: Each its own scale-to-zero model (and so its own cold start), all served by smollm2-135m.
COLD = ("cold-chat", "cold-compare-a", "cold-compare-b", "cold-gateway", "cold-hidden")


def scale_to_zero_catalog(folder: Path) -> Path:
    local = yaml.safe_load((ROOT / "models.yaml").read_text())["models"]
    smollm2 = next(model for model in local if model["name"] == "smollm2-135m")
    models = [
        {**smollm2, "name": name, "deployment": {**smollm2["deployment"], "scale_to_zero": True}}
        for name in COLD
    ]
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump({"models": models}))
    return path


@pytest.fixture(scope="module")
def cold_api(model_server_url, postgres_server_url, secret_file: Path, tmp_path_factory) -> Iterator[str]:
    env = api_env(
        model_server_url,
        postgres_server_url,
        secret_file,
        "warm_up_tests",
        CHATBOT_MODELS_FILE=str(scale_to_zero_catalog(tmp_path_factory.mktemp("catalog"))),
        # Warm at the first retry after the refusal that starts it (no waiting in a test).
        CHATBOT_LOCAL_WARM_UP_S="0",
    )
    with chat_api_server(env) as url:
        yield url


@pytest.fixture
def carol(cold_api: str, secret_file: Path) -> Iterator[httpx.Client]:
    with client_for(cold_api, LocalTokens(local_secret(secret_file)), "carol") as client:
        yield client


def assert_warming_up(response: httpx.Response, code_key: str = "code") -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    error = body.get("error", body)
    assert error[code_key] == "model_warming_up", body
    assert "warming up" in error["message"]
    assert "minutes" in error["message"]


def streamed(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def test_a_chat_with_a_cold_model_is_refused_before_the_stream_and_saves_nothing_then_works(carol):
    body = {"model": "cold-chat", "message": "Say hello.", "parameters": {"max_new_tokens": 8}}
    assert_warming_up(carol.post("/chat", json=body))
    assert carol.get("/sessions").json()["sessions"] == []  # nothing saved
    events = streamed(carol.post("/chat", json=body))  # the retry, once it is up
    assert events[-1]["type"] == "done", events[-1]
    assert any(event["type"] == "token" for event in events)
    assert len(carol.get("/sessions").json()["sessions"]) == 1


def test_a_compare_with_one_cold_lane_is_refused_whole_before_the_stream(carol):
    sessions_before = carol.get("/sessions").json()["sessions"]
    body = {
        "models": ["cold-compare-a", "cold-compare-b"],
        "message": "Hi",
        "parameters": {"max_new_tokens": 4},
    }
    assert_warming_up(carol.post("/compare", json=body))
    assert carol.get("/sessions").json()["sessions"] == sessions_before
    events = streamed(carol.post("/compare", json=body))
    assert [event for event in events if event["type"] == "error"] == []


def test_the_gateway_answers_a_cold_model_in_openais_shape_with_retry_after(carol):
    body = {"model": "cold-gateway", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    assert_warming_up(carol.post("/v1/chat/completions", json=body))
    answer = carol.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["role"] == "assistant"


def test_a_signed_out_caller_never_starts_a_cold_model(cold_api: str):
    response = httpx.post(f"{cold_api}/chat", json={"model": "cold-chat", "message": "Hi"})
    assert response.status_code == 401


def test_a_model_the_callers_roles_may_not_use_is_neither_started_nor_revealed(
    cold_api: str, secret_file: Path
):
    # Administrators are named in the users file: made now, so tokens issued from here on count.
    path = secret_file.parent / "users.yaml"
    users = UsersFile(path)
    users.add("root", "roots password", admin=True)
    users.add("dora", "doras password")
    tokens = LocalTokens(local_secret(secret_file))
    with (
        client_for(cold_api, tokens, "root") as admin,
        client_for(cold_api, tokens, "dora") as dora,
        _removed_afterwards(path),  # no accounts again: the other tests' callers are in no file
    ):
        admin.headers["Authorization"] = f"Bearer {tokens.issue('root', roles=['admin'])}"
        assert admin.put("/admin/models/cold-hidden", json={"enabled": False}).status_code == 200
        body = {"model": "cold-hidden", "message": "Hi", "parameters": {"max_new_tokens": 4}}
        for _ in range(2):  # refused alike, cold or not: nothing says whether it is up
            refused = dora.post("/chat", json=body)
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "model_not_allowed"
        assert admin.put("/admin/models/cold-hidden", json={"enabled": True}).status_code == 200
        # Still cold: had a refused call started it, this one (no warm-up wait here) would answer.
        assert_warming_up(dora.post("/chat", json=body))


@contextmanager
def _removed_afterwards(path: Path) -> Iterator[None]:
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
