"""Feedback through the real chat API (issue 23): a thumb on a real answer reaches the model's
approval rate; a second thumb, someone else's session, a question and bad input are refused
with a 4xx that says what to do; an imported answer's thumb moves no rate."""

from __future__ import annotations

import httpx

from tests.lambdas.chat_api.test_app import SHORT, stream_events


def answered(client: httpx.Client, message: str = "Name a colour.") -> tuple[str, int]:
    events = stream_events(
        client, "/chat", {"model": "smollm2-135m", "message": message, "parameters": SHORT}
    )
    session_id = events[0]["session_id"]
    messages = client.get(f"/sessions/{session_id}").json()["messages"]
    return session_id, next(m["seq"] for m in messages if m["role"] == "assistant")


def approval_of(client: httpx.Client, model: str) -> dict | None:
    response = client.get("/feedback/approval")
    assert response.status_code == 200, response.text
    return next((row for row in response.json()["models"] if row["model"] == model), None)


def test_a_thumb_on_a_real_answer_reaches_the_models_approval_rate(alice: httpx.Client):
    before = approval_of(alice, "smollm2-135m") or {"up": 0, "down": 0}
    session_id, seq = answered(alice)
    response = alice.post(
        f"/sessions/{session_id}/feedback", json={"seq": seq, "rating": "up", "comment": "Good."}
    )
    assert response.status_code == 201, response.text
    assert response.json() | {"created_at": None} == {
        "session_id": session_id,
        "seq": seq,
        "rating": "up",
        "comment": "Good.",
        "model": "smollm2-135m",
        "counted": True,
        "void_reason": None,
        "created_at": None,
    }
    after = approval_of(alice, "smollm2-135m")
    assert (after["up"], after["down"]) == (before["up"] + 1, before["down"])
    assert after["lower"] <= after["rate"] <= after["upper"]
    assert [f["seq"] for f in alice.get(f"/sessions/{session_id}/feedback").json()] == [seq]

    again = alice.post(f"/sessions/{session_id}/feedback", json={"seq": seq, "rating": "down"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "feedback_exists"


def test_feedback_on_what_is_not_the_callers_answer_is_refused(alice: httpx.Client, bob: httpx.Client):
    session_id, seq = answered(alice, "Private question.")
    someone_elses = bob.post(f"/sessions/{session_id}/feedback", json={"seq": seq, "rating": "down"})
    assert someone_elses.status_code == 404
    assert bob.get(f"/sessions/{session_id}/feedback").status_code == 404
    question = alice.post(f"/sessions/{session_id}/feedback", json={"seq": seq - 1, "rating": "up"})
    assert question.status_code == 404
    assert "answer" in question.json()["error"]["message"]
    for bad in (
        {"seq": seq, "rating": "meh"},
        {"seq": 0, "rating": "up"},
        {"seq": seq, "rating": "up", "comment": "x" * 2001},
        {"seq": seq, "rating": "up", "model": "gemma3-270m"},  # the model is the answer's, never the caller's
        {"rating": "up"},
    ):
        response = alice.post(f"/sessions/{session_id}/feedback", json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["code"] == "invalid_request"


def test_a_thumb_on_an_imported_answer_is_kept_but_moves_no_rate(alice: httpx.Client, bob: httpx.Client):
    session_id, _ = answered(alice, "Shared by export.")
    exported = alice.get(f"/sessions/{session_id}/export").json()
    assert bob.post("/sessions/import", json=exported).status_code == 200
    copy = next(s for s in bob.get("/sessions").json()["sessions"] if s["title"] == "Shared by export.")
    messages = bob.get(f"/sessions/{copy['id']}").json()["messages"]
    seq = next(m["seq"] for m in messages if m["role"] == "assistant")
    before = approval_of(bob, "smollm2-135m") or {"up": 0, "down": 0}
    response = bob.post(f"/sessions/{copy['id']}/feedback", json={"seq": seq, "rating": "down"})
    assert response.status_code == 201, response.text
    assert (response.json()["counted"], response.json()["void_reason"]) == (False, "imported_answer")
    after = approval_of(bob, "smollm2-135m") or {"up": 0, "down": 0}
    assert (after["up"], after["down"]) == (before["up"], before["down"])
    assert bob.get("/feedback/approval").json()["voided"]["imported_answer"] >= 1
