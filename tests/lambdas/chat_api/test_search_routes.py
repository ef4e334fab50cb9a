"""History search, pins and folders through the real chat API (issue 23)."""

from __future__ import annotations

import httpx

from tests.lambdas.chat_api.test_app import SHORT, stream_events


def chat(client: httpx.Client, message: str) -> str:
    events = stream_events(
        client, "/chat", {"model": "smollm2-135m", "message": message, "parameters": SHORT}
    )
    return events[0]["session_id"]


def test_search_finds_the_callers_own_conversations_by_their_words(alice: httpx.Client, bob: httpx.Client):
    session_id = chat(alice, "Tell me about the zanzibarian archipelago.")
    response = alice.get("/sessions/search", params={"q": "Zanzibarian"})
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert [hit["id"] for hit in hits] == [session_id]
    assert "zanzibarian" in hits[0]["snippet"].casefold()
    assert bob.get("/sessions/search", params={"q": "zanzibarian"}).json()["hits"] == []


def test_a_bad_search_is_a_422_that_says_what_to_send(alice: httpx.Client):
    for params in ({}, {"q": "   "}, {"q": "x" * 201}, {"q": "a", "limit": 0}, {"q": "a", "limit": 51}):
        response = alice.get("/sessions/search", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["code"] == "invalid_request"


def test_pins_and_folders_are_listed_and_only_the_owner_sets_them(alice: httpx.Client, bob: httpx.Client):
    session_id = chat(alice, "Pin me.")
    marked = alice.put(f"/sessions/{session_id}/mark", json={"pinned": True, "folder": " Work "})
    assert marked.status_code == 200, marked.text
    assert (marked.json()["pinned"], marked.json()["folder"]) == (True, "Work")
    assert session_id in [m["session_id"] for m in alice.get("/sessions/marks").json()]
    assert bob.put(f"/sessions/{session_id}/mark", json={"pinned": True}).status_code == 404
    assert bob.get("/sessions/marks").json() == []
    assert alice.put(f"/sessions/{session_id}/mark", json={"pinned": "sure"}).status_code == 422
    assert alice.put(f"/sessions/{session_id}/mark", json={"folder": "x" * 61}).status_code == 422
    assert alice.put(f"/sessions/{session_id}/mark", json={}).json()["pinned"] is False
    assert session_id not in [m["session_id"] for m in alice.get("/sessions/marks").json()]
