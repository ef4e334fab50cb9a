"""The schedule's refit event (infra/components/arena_refit.py), as the Lambda Web Adapter passes it to the
chat API: POST /events refits the stored leaderboard, which GET /leaderboard then serves."""

from __future__ import annotations

import httpx

from chatbot.api.arena import REFIT_EVENT


def test_the_refit_event_stores_a_fit_that_the_leaderboard_serves(alice: httpx.Client):
    first = alice.post("/events", json=REFIT_EVENT)
    assert first.status_code == 200, first.text
    version = first.json()["version"]
    assert version is not None
    assert version >= 1
    assert alice.get("/leaderboard").json()["version"] == version
    again = alice.post("/events", json=REFIT_EVENT).json()
    assert again == {"refitted": False, "version": version}, "a fit younger than the minimum interval stays"


def test_any_other_event_is_refused_with_a_422(api_url: str):
    with httpx.Client(base_url=api_url, timeout=30) as anyone:
        answer = anyone.post("/events", json={"source": "aws.events", "action": "delete"})
    assert answer.status_code == 422
