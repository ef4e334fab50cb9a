"""The chat API, running for real: uvicorn, the local model server, Postgres, NDJSON streams."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from chatbot.models.endpoints import SageMakerEndpoint
from lambdas.chat_api.auth import LocalTokens
from tests.model_counters import after_cancel, counters
from tests.sampling import GREEDY, LONG, long_answer_seed
from tests.waiting import eventually

#: Greedy: short answers that are never empty (see tests/sampling.py).
SHORT = {"max_new_tokens": 12, **GREEDY}


def long_answer(catalog, runtime_client, message: str, tokens: int = 120) -> dict:
    """Parameters whose SmolLM2 draw is proven to run past `tokens` tokens: a stop lands
    mid-answer, and a count of tokens under it shows the stop cut the answer."""
    seed = long_answer_seed(
        SageMakerEndpoint(catalog.get("smollm2-135m"), runtime_client), message, tokens=tokens
    )
    return {**LONG, "seed": seed}


def stream_events(client: httpx.Client, path: str, body: dict) -> list[dict]:
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "application/x-ndjson"
        return [json.loads(line) for line in response.iter_lines() if line]


def text_of(events: list[dict], lane=None) -> str:
    return "".join(e["text"] for e in events if e["type"] == "token" and e["lane"] == lane)


def test_health_needs_no_token_and_everything_else_does(api_url: str):
    assert httpx.get(f"{api_url}/health").json() == {"status": "ok", "models": 3}
    response = httpx.get(f"{api_url}/models")
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith(
        "Sign in first: send 'Authorization: Bearer <token>'"
    )


def test_a_forged_or_expired_token_is_refused(api_url: str, tokens: LocalTokens):
    forged = LocalTokens("x" * 40).issue("alice")
    response = httpx.get(f"{api_url}/models", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert "Signature verification failed" in response.json()["error"]["message"]
    expired = tokens.issue("alice", ttl_s=-10)
    response = httpx.get(f"{api_url}/models", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Your session has expired. Sign in again."


def test_models_are_listed_with_their_limits(alice: httpx.Client):
    models = {model["name"]: model for model in alice.get("/models").json()}
    assert set(models) == {"smollm2-135m", "gemma3-270m", "smollm2-135m-bedrock"}
    assert models["smollm2-135m"]["max_new_tokens_limit"] == 1024
    assert models["smollm2-135m"]["default_parameters"]["max_new_tokens"] == 256


def test_chat_streams_one_typed_event_per_line_and_saves_the_turn(alice: httpx.Client):
    events = stream_events(
        alice, "/chat", {"model": "smollm2-135m", "message": "Hello!", "parameters": SHORT}
    )
    assert [e["type"] for e in events[:2]] == ["session", "start"]
    assert events[-1]["type"] == "done"
    assert sum(e["type"] == "token" for e in events) >= 2
    conversation = alice.get(f"/sessions/{events[0]['session_id']}").json()
    assert [m["role"] for m in conversation["messages"]] == ["user", "assistant"]
    assert conversation["messages"][1]["content"] == text_of(events)


def test_compare_multiplexes_lanes_in_one_stream(alice: httpx.Client):
    body = {"models": ["smollm2-135m", "gemma3-270m"], "message": "Name a colour.", "parameters": SHORT}
    events = stream_events(alice, "/compare", body)
    assert {e["lane"] for e in events if e["type"] == "done"} == {"a", "b"}
    assert text_of(events, "a")
    assert text_of(events, "b")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"model": "gpt-9", "message": "hi"},
            404,
            "Unknown model 'gpt-9'. Pick one of: gemma3-270m, smollm2-135m, smollm2-135m-bedrock.",
        ),
        ({"model": "smollm2-135m", "message": ""}, 422, "The message is empty"),
        ({"model": "smollm2-135m", "message": "x" * 2500}, 413, "the limit is 2000"),
        (
            {"model": "smollm2-135m", "message": "hi", "parameters": {"max_new_tokens": 99999}},
            422,
            "allows (1024)",
        ),
        ({"model": "smollm2-135m", "message": "hi", "parameters": {"top_p": 5}}, 422, "top_p"),
        ({"model": "smollm2-135m"}, 422, "message: Field required"),
        (
            {"model": "smollm2-135m", "message": "hi", "colour": "red"},
            422,
            "colour: Extra inputs are not permitted",
        ),
    ],
)
def test_bad_requests_get_a_clear_error_and_save_nothing(
    bob: httpx.Client, body: dict, status: int, message: str
):
    response = bob.post("/chat", json=body)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]
    assert bob.get("/sessions").json()["sessions"] == []


def test_malformed_json_too_many_lanes_and_oversized_bodies_are_refused(bob: httpx.Client):
    response = bob.post("/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    models = ["smollm2-135m", "gemma3-270m"] * 3
    response = bob.post("/compare", json={"models": models[:5], "message": "hi"})
    assert response.status_code == 422
    assert "Compare 2 to 4 models; 5 were given." in response.json()["error"]["message"]
    response = bob.post("/chat", content=b"x" * 300_000, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert bob.get("/sessions").json()["sessions"] == []


def test_sessions_can_be_listed_renamed_and_deleted_by_their_owner_only(
    alice: httpx.Client, bob: httpx.Client
):
    events = stream_events(
        alice, "/chat", {"model": "gemma3-270m", "message": "Plan my week", "parameters": SHORT}
    )
    session_id = events[0]["session_id"]
    assert alice.get("/sessions").json()["sessions"][0]["title"] == "Plan my week"

    for attempt in (
        bob.get(f"/sessions/{session_id}"),
        bob.patch(f"/sessions/{session_id}", json={"title": "mine now"}),
        bob.delete(f"/sessions/{session_id}"),
        bob.post(f"/sessions/{session_id}/stop", json={}),
        bob.post("/chat", json={"session_id": session_id, "model": "gemma3-270m", "message": "hi"}),
    ):
        assert attempt.status_code == 404
        assert attempt.json()["error"]["code"] == "session_not_found"
    assert session_id not in [s["id"] for s in bob.get("/sessions").json()["sessions"]]

    assert alice.patch(f"/sessions/{session_id}", json={"title": "Week plan"}).json()["title"] == "Week plan"
    assert alice.delete(f"/sessions/{session_id}").status_code == 204
    assert alice.get(f"/sessions/{session_id}").status_code == 404
    stream_events(alice, "/chat", {"model": "gemma3-270m", "message": "one more", "parameters": SHORT})
    assert alice.delete("/sessions").json()["deleted"] >= 1
    assert alice.get("/sessions").json()["sessions"] == []


def test_a_stop_sent_on_another_connection_stops_the_stream(
    alice: httpx.Client, api_url: str, tokens: LocalTokens, catalog, runtime_client
):
    message = "Tell me a long story."
    body = {
        "model": "smollm2-135m",
        "message": message,
        "parameters": long_answer(catalog, runtime_client, message),
    }
    events = []
    with alice.stream("POST", "/chat", json=body) as response:
        for line in response.iter_lines():
            events.append(json.loads(line))
            if sum(e["type"] == "token" for e in events) == 5:
                with httpx.Client(
                    base_url=api_url, headers={"Authorization": f"Bearer {tokens.issue('alice')}"}
                ) as other:
                    assert other.post(f"/sessions/{events[0]['session_id']}/stop", json={}).status_code == 202
    assert events[-1]["type"] == "done"
    assert events[-1]["finish_reason"] == "stopped"
    assert sum(e["type"] == "token" for e in events) < 100  # of a draw proven to run past 120
    saved = alice.get(f"/sessions/{events[0]['session_id']}").json()["messages"][-1]
    assert saved["status"] == "stopped"
    assert saved["content"] == text_of(events)


def test_a_client_that_disconnects_leaves_the_answer_saved_as_stopped(
    alice: httpx.Client, model_server_url: str, catalog, runtime_client
):
    message = "Write a long essay about rivers."
    body = {
        "model": "smollm2-135m",
        "message": message,
        "parameters": long_answer(catalog, runtime_client, message),
    }
    before = counters(model_server_url, "smollm2-135m")
    with alice.stream("POST", "/chat", json=body) as response:
        lines = response.iter_lines()
        session_id = json.loads(next(lines))["session_id"]
        for _, _line in zip(range(5), lines, strict=False):
            pass
    # The connection is closed. The API stops the generation and saves it.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = alice.get(f"/sessions/{session_id}").json()["messages"]
        if len(messages) == 2:
            break
        time.sleep(0.1)
    assert messages[-1]["status"] == "stopped"
    after = after_cancel(model_server_url, "smollm2-135m", before)  # the model server has seen it too
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["running"] == 0


def test_arena_votes_reveal_the_models_and_feed_the_leaderboard(alice: httpx.Client):
    before = alice.get("/leaderboard").json()["votes"]
    events = stream_events(alice, "/compare", {"arena": True, "message": "Say hi.", "parameters": SHORT})
    assert {e["model"] for e in events if e["type"] == "start"} == {"Model A", "Model B"}
    session = events[0]
    vote = alice.post(
        "/votes", json={"session_id": session["session_id"], "round": session["round"], "choice": "right"}
    )
    assert vote.status_code == 200
    drawn = set(vote.json()["models"].values())
    assert len(drawn) == 2
    assert drawn <= {"smollm2-135m", "gemma3-270m", "smollm2-135m-bedrock"}
    again = alice.post(
        "/votes", json={"session_id": session["session_id"], "round": session["round"], "choice": "left"}
    )
    assert again.status_code == 409
    # The API answers with its last fit if this vote's takes long (a busy machine): ask again.
    board = eventually(lambda: alice.get("/leaderboard").json(), lambda board: board["votes"] == before + 1)
    assert drawn <= {rating["model"] for rating in board["ratings"]}


def test_concurrent_chats_from_many_users_all_complete(api_url: str, tokens: LocalTokens):
    results: dict[str, list[dict]] = {}

    def chat(user: str, model: str) -> None:
        with httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {tokens.issue(user)}"}, timeout=120
        ) as c:
            results[user] = stream_events(c, "/chat", {"model": model, "message": "Hi!", "parameters": SHORT})

    threads = [
        threading.Thread(target=chat, args=(f"user{i}", ["smollm2-135m", "gemma3-270m"][i % 2]))
        for i in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(events[-1]["type"] == "done" for events in results.values())
    assert len(results) == 6
