"""Bad input gets a 422 that says what is wrong, and nothing is saved: never a server error."""

from __future__ import annotations

import httpx
import pytest

from chatbot.api.local_tokens import local_secret
from chatbot.chat.cursor import encode_cursor
from chatbot.postgres import create_database
from lambdas.chat_api.auth import LocalTokens
from launcher.processes import free_port
from tests.servers import chat_api_server

NUL = "\x00"


@pytest.mark.parametrize(
    ("method", "path", "body", "where"),
    [
        ("POST", "/chat", {"model": "smollm2-135m", "message": f"hi{NUL}there"}, "message"),
        ("POST", "/compare", {"models": ["smollm2-135m", "gemma3-270m"], "message": NUL}, "message"),
        (
            "POST",
            "/chat",
            {"model": "smollm2-135m", "message": "hi", "parameters": {"stop": ["ok", f"a{NUL}"]}},
            "parameters.stop.1",
        ),
        ("PATCH", "/sessions/some-id", {"title": f"My{NUL}title"}, "title"),
        ("GET", "/sessions/a%00b", None, "the path"),
        ("GET", "/documents/search?q=a%00", None, "query parameter 'q'"),
    ],
)
def test_a_nul_character_anywhere_is_a_422_that_says_where_it_is(
    bob: httpx.Client, method: str, path: str, body: dict | None, where: str
):
    response = bob.request(method, path, json=body)
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "nul_character",
        "message": f"{where} contains a NUL character (\\u0000), which cannot be stored. Remove it and send again.",
    }
    assert bob.get("/sessions").json()["sessions"] == []


@pytest.mark.parametrize(
    "cursor",
    [
        "null",  # base64 of nothing useful
        "%%%",  # not base64
        "gICA",  # base64 of bytes that are not UTF-8
        encode_cursor({"not": "a position"}),
        encode_cursor(["not a date", "session"]),
        encode_cursor(["2026-01-01T00:00:00+00:00", 42]),
    ],
)
def test_a_cursor_the_api_did_not_give_out_is_a_422(bob: httpx.Client, cursor: str):
    response = bob.get("/sessions", params={"cursor": cursor})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_cursor"
    assert "Pass back the `cursor` of the previous page unchanged" in response.json()["error"]["message"]


def test_a_cursor_the_api_gave_out_still_pages(alice: httpx.Client):
    for title in ("one", "two"):
        body = {"model": "smollm2-135m", "message": title, "parameters": {"max_new_tokens": 1}}
        assert alice.post("/chat", json=body).status_code == 200
    first = alice.get("/sessions", params={"limit": 1}).json()
    second = alice.get("/sessions", params={"limit": 1, "cursor": first["cursor"]}).json()
    assert [s["title"] for s in first["sessions"] + second["sessions"]] == ["two", "one"]


def test_while_the_model_server_is_down_chat_is_a_503_that_says_it_is_restarting(
    postgres_server_url: str, tmp_path
):
    nothing_there = f"http://127.0.0.1:{free_port()}"
    env = {
        "CHATBOT_MODELS_FILE": "models.yaml",
        "SAGEMAKER_ENDPOINT_URL": nothing_there,
        "DATABASE_URL": create_database(postgres_server_url, "model_server_down"),
        "CHATBOT_LOCAL_SECRET_FILE": str(tmp_path / "secret"),
        "CHATBOT_DOCUMENTS": "off",
    }
    with chat_api_server(env) as url:
        headers = {"Authorization": f"Bearer {LocalTokens(local_secret(tmp_path / 'secret')).issue('carol')}"}
        for path, body in (
            ("/chat", {"model": "smollm2-135m", "message": "Hi"}),
            ("/compare", {"models": ["smollm2-135m", "gemma3-270m"], "message": "Hi"}),
        ):
            response = httpx.post(f"{url}{path}", json=body, headers=headers)
            assert response.status_code == 503
            error = response.json()["error"]
            assert error["code"] == "model_server_restarting"
            assert error["message"].startswith("The model server is restarting")
            assert "Try again in a few seconds." in error["message"]
        assert httpx.get(f"{url}/sessions", headers=headers).json()["sessions"] == [], "nothing was saved"
