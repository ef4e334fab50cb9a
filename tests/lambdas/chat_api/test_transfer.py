"""Conversations taken away and brought back through the API: Markdown and JSON exports of one
or all, and an import that keeps each message's status and figures and adds nothing twice; an
administrator's import of a battles file."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from chatbot.api.users import UsersFile
from lambdas.chat_api.auth import LocalTokens
from tests.lambdas.chat_api.conftest import client_for
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


def battle_line(index: int, winner: str) -> str:
    return json.dumps(
        {
            "question_id": f"imported-{index}#1",
            "model_a": "smollm2-135m",
            "model_b": "gemma3-270m",
            "winner": "model_a" if winner == "left" else "model_b",
            "judge": f"judge-{index}",
            "tstamp": 1764583200.0 + index,
            "turn": 1,
            "session_id": f"imported-{index}",
            "round": 1,
            "choice": winner,
            "models": ["smollm2-135m", "gemma3-270m"],
            "lanes": ["a", "b"],
            "created_at": "2026-12-01T09:00:00+00:00",
        }
    )


def test_an_administrator_imports_a_battles_file_once_and_the_leaderboard_counts_it(
    api_url: str, tokens: LocalTokens, secret_file: Path
):
    # Once the users file exists, the API takes only its accounts' tokens, issued after the account.
    users = UsersFile(secret_file.parent / "users.yaml")
    users.add("root", "roots password", admin=True)
    users.add("alice", "alices password")
    body = "\n".join(battle_line(index, "left" if index % 3 else "right") for index in range(6)) + "\n"
    headers = {"Content-Type": "application/x-ndjson"}
    with client_for(api_url, tokens, "alice") as alice:
        refused = alice.post("/admin/battles", content=body, headers=headers)
        assert refused.status_code == 403, "only administrators import"
        before = alice.get("/leaderboard").json()["votes"]
        admin_token = tokens.issue("root", roles=("admin",))
        with httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=60
        ) as admin:
            first = admin.post("/admin/battles", content=body, headers=headers)
            assert first.json() == {"imported": 6, "skipped": 0}
            assert admin.post("/admin/battles", content=body, headers=headers).json() == {
                "imported": 0,
                "skipped": 6,
            }
            bad = admin.post("/admin/battles", content=body + '{"model_a": 1}\n', headers=headers)
            assert bad.status_code == 422
            assert "Line 7 of the battles file is not a battle" in bad.json()["error"]["message"]
        assert alice.get("/leaderboard").json()["votes"] == before + 6
