"""Share links through the real chat API (issue 23): made by the owner, opened by another
signed-in user, listed and revoked by the owner only; revoked and unknown ids are 404; public
links are refused where no administrator allowed them, and a stranger gets nothing."""

from __future__ import annotations

import httpx

from tests.lambdas.chat_api.test_app import SHORT, stream_events


def test_a_link_opens_for_another_signed_in_user_until_revoked(alice: httpx.Client, bob: httpx.Client):
    events = stream_events(
        alice, "/chat", {"model": "smollm2-135m", "message": "Share me.", "parameters": SHORT}
    )
    session_id = events[0]["session_id"]
    made = alice.post(f"/sessions/{session_id}/share")
    assert made.status_code == 201, made.text
    link = made.json()
    assert link["path"] == f"/shared/{link['id']}"
    assert (link["session_id"], link["public"], link["revoked_at"]) == (session_id, False, None)

    seen = bob.get(link["path"])
    assert seen.status_code == 200, seen.text
    assert seen.json()["shared_by"] == "alice"
    assert [m["role"] for m in seen.json()["messages"]] == ["user", "assistant"]
    assert seen.json()["messages"][0]["content"] == "Share me."
    assert link["id"] in [listed["id"] for listed in alice.get("/shares").json()]
    assert bob.get("/shares").json() == []

    assert bob.delete(link["path"]).status_code == 404, "only the owner revokes"
    revoked = alice.delete(link["path"])
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    for viewer in (alice, bob):
        gone = viewer.get(link["path"])
        assert gone.status_code == 404
        assert gone.json()["error"]["code"] == "share_not_found"


def test_unknown_ids_and_other_peoples_sessions_are_404(alice: httpx.Client, bob: httpx.Client):
    for share_id in ("0" * 32, "no-such-link-at-all-here", "%2E%2E"):
        assert bob.get(f"/shared/{share_id}").status_code == 404
    events = stream_events(alice, "/chat", {"model": "smollm2-135m", "message": "Mine.", "parameters": SHORT})
    assert bob.post(f"/sessions/{events[0]['session_id']}/share").status_code == 404


def test_public_links_are_off_unless_an_administrator_allows_them(alice: httpx.Client, api_url: str):
    events = stream_events(
        alice, "/chat", {"model": "smollm2-135m", "message": "Public?", "parameters": SHORT}
    )
    session_id = events[0]["session_id"]
    refused = alice.post(f"/sessions/{session_id}/share", json={"public": True})
    assert refused.status_code == 403
    assert "CHATBOT_PUBLIC_SHARE_LINKS" in refused.json()["error"]["message"]
    assert alice.post(f"/sessions/{session_id}/share", json={"public": "yes please"}).status_code == 422
    link = alice.post(f"/sessions/{session_id}/share", json={}).json()
    with httpx.Client(base_url=api_url) as stranger:
        assert stranger.get(link["path"]).status_code == 401
        assert stranger.get(f"/public{link['path']}").status_code == 404
