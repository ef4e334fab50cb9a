"""Conversations taken away and brought back through the API: Markdown and JSON exports of one
or all, and an import that keeps each message's status and figures and adds nothing twice."""

from __future__ import annotations

import httpx

from tests.lambdas.chat_api.test_app import SHORT, stream_events


def test_a_conversation_exports_as_markdown_and_json_and_imports_once_elsewhere(
    alice: httpx.Client, bob: httpx.Client
):
    events = stream_events(
        alice, "/chat", {"model": "smollm2-135m", "message": "Hello there!", "parameters": SHORT}
    )
    session_id = events[0]["session_id"]

    markdown = alice.get(f"/sessions/{session_id}/export", params={"format": "markdown"})
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert 'filename="conversation-' in markdown.headers["content-disposition"]
    assert markdown.text.startswith("# Hello there!")
    assert "## You\n\nHello there!" in markdown.text

    everything = alice.get("/sessions/export").json()
    assert session_id in [c["session"]["id"] for c in everything["conversations"]]
    one = alice.get(f"/sessions/{session_id}/export").json()
    (answer,) = [m for m in one["conversations"][0]["messages"] if m["role"] == "assistant"]

    first = bob.post("/sessions/import", json=one)
    assert first.status_code == 200, first.text
    assert first.json() == {"imported": 1, "skipped": 0}
    assert bob.post("/sessions/import", json=one).json() == {"imported": 0, "skipped": 1}
    (copy,) = [s for s in bob.get("/sessions").json()["sessions"] if s["title"] == "Hello there!"]
    restored = bob.get(f"/sessions/{copy['id']}").json()["messages"][-1]
    assert {k: restored[k] for k in ("content", "status", "usage", "metrics")} == {
        k: answer[k] for k in ("content", "status", "usage", "metrics")
    }


def test_someone_elses_conversation_cannot_be_exported(alice: httpx.Client, bob: httpx.Client):
    events = stream_events(
        alice, "/chat", {"model": "smollm2-135m", "message": "Private", "parameters": SHORT}
    )
    response = bob.get(f"/sessions/{events[0]['session_id']}/export")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"


def test_an_import_that_is_not_an_export_is_refused_with_what_to_send(bob: httpx.Client):
    response = bob.post("/sessions/import", json={"conversations": [{"session": {}}]})
    assert response.status_code == 422
    assert "conversations" in response.json()["error"]["message"]
    wrong_format = bob.get("/sessions/export", params={"format": "pdf"})
    assert wrong_format.status_code == 422
