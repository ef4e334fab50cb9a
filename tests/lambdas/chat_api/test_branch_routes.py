"""Edit and branch through the real chat API (issue 23): an edit starts a branch whose answer
follows the edited question's parent; someone else's question cannot be edited; a seq that is
not a question is a 422 before anything is stored."""

from __future__ import annotations

import httpx

from tests.lambdas.chat_api.test_app import SHORT, stream_events


def test_an_edit_is_a_new_branch_and_only_the_owner_may_make_one(alice: httpx.Client, bob: httpx.Client):
    first = stream_events(
        alice, "/chat", {"model": "smollm2-135m", "message": "Name a sea.", "parameters": SHORT}
    )
    session_id = first[0]["session_id"]
    body = {"session_id": session_id, "model": "smollm2-135m", "parameters": SHORT}
    edited = stream_events(alice, "/chat", {**body, "message": "Name a lake.", "edit_of": 1})
    assert edited[0]["round"] == 3
    messages = alice.get(f"/sessions/{session_id}").json()["messages"]
    assert [(m["seq"], m["role"], m["parent"]) for m in messages] == [
        (1, "user", None),
        (2, "assistant", None),
        (3, "user", 0),
        (4, "assistant", None),
    ]
    someone_elses = bob.post("/chat", json={**body, "message": "Mine now", "edit_of": 1})
    assert someone_elses.status_code == 404
    for bad in ({"edit_of": 2}, {"edit_of": 99}, {"parent": 99}, {"edit_of": 0}, {"edit_of": 1, "parent": 2}):
        response = alice.post("/chat", json={**body, "message": "Again", **bad})
        assert response.status_code == 422, (bad, response.text)
    assert len(alice.get(f"/sessions/{session_id}").json()["messages"]) == 4, "refused edits store nothing"
