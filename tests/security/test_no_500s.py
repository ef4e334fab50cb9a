"""Item 10: inputs that once gave a 500 get a 422 that says what to do.

A lone surrogate (half of a UTF-16 pair, which JSON can spell as `\\ud800`) cannot be encoded as
UTF-8, so no store keeps it; a NUL cannot be stored either, whatever the case or parameters of
the JSON Content-Type; bcrypt reads only 72 bytes of a password."""

from __future__ import annotations

import json

import pytest

LONE_SURROGATE = "\\ud800"  # as JSON spells it: Python cannot encode the character itself


def raw_json(client, method: str, path: str, text: str, content_type: str = "application/json"):
    return client.request(method, path, content=text.encode(), headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    ("method", "path", "body", "where"),
    [
        ("POST", "/chat", f'{{"model": "smollm2-135m", "message": "hi {LONE_SURROGATE}"}}', "message"),
        ("POST", "/sessions/some-id/stop", f'{{"lane": "{LONE_SURROGATE}"}}', "lane"),
        (
            "POST",
            "/v1/chat/completions",
            f'{{"model": "smollm2-135m", "messages": [{{"role": "user", "content": "{LONE_SURROGATE}"}}]}}',
            "messages.0.content",
        ),
    ],
)
def test_a_lone_surrogate_is_a_422_that_says_where_it_is(member, method, path, body, where):
    # Names of their own: the API's database is shared with the chat API's other test modules.
    sender = member("surrogate-sender")
    response = raw_json(sender, method, path, body)
    assert response.status_code in (400, 422), response.text  # 400: the OpenAI shape under /v1
    assert where in response.text
    assert "surrogate" in response.text
    assert sender.get("/sessions").json()["sessions"] == []


def test_an_import_with_a_lone_surrogate_is_a_422(member):
    alice = member("alice")
    with alice.stream(
        "POST", "/chat", json={"model": "smollm2-135m", "message": "Hi", "parameters": {"max_new_tokens": 1}}
    ) as chat:
        session_id = json.loads(next(chat.iter_lines()))["session_id"]
    exported = alice.get(f"/sessions/{session_id}/export").text
    forged = exported.replace('"title": "Hi"', f'"title": "Hi {LONE_SURROGATE}"', 1)
    assert forged != exported
    response = raw_json(member("bob"), "POST", "/sessions/import", forged)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_text"
    assert "conversations.0.session.title" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "content_type", ["Application/JSON", "application/json; charset=utf-8", "APPLICATION/JSON;charset=UTF-8"]
)
def test_a_nul_is_a_422_whatever_the_json_content_type_says(member, content_type):
    carol = member("nul-sender")
    response = raw_json(
        carol, "POST", "/chat", '{"model": "smollm2-135m", "message": "a\\u0000b"}', content_type
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "nul_character"
    rename = raw_json(carol, "PATCH", "/sessions/any", '{"title": "a\\u0000b"}', content_type)
    assert rename.status_code == 422, rename.text
    assert carol.get("/sessions").json()["sessions"] == []


def test_a_password_over_72_bytes_is_a_422_that_says_how_long_it_may_be(member, users):
    root = member("root", admin=True)
    for password in ("p" * 73, "é" * 40):  # 73 bytes; 40 characters of 2 bytes each
        response = root.put("/users/dora", json={"password": password})
        assert response.status_code == 422, response.text
        assert "72 bytes" in response.json()["error"]["message"]
    assert "dora" not in users.names()
    assert root.put("/users/dora", json={"password": "p" * 72}).status_code == 200
