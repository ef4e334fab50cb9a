"""Item 2: imports are checked. An imported or continued session has 2 to 4 panes, with the ids
the service uses (a to d), each once; a model this deployment does not serve stays as history
and cannot be continued; a Stop names only the session's own panes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from chatbot.api.records import Lane, Message, Session
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.postgres import ConnectionPool, create_database
from lambdas.chat_api.auth import LocalTokens
from tests.lambdas.chat_api.conftest import api_url, client_for, secret_file, tokens  # noqa: F401 (fixtures)
from tests.lambdas.chat_api.test_app import SHORT, stream_events


@pytest.fixture
def mallory_id() -> str:
    return f"mallory-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def mallory(api_url: str, tokens: LocalTokens, mallory_id: str) -> Iterator[httpx.Client]:  # noqa: F811
    with client_for(api_url, tokens, mallory_id) as client:
        yield client


def exported(lanes: list[dict], *, kind: str = "compare", answer_lanes: list[str] | None = None) -> dict:
    answer_lanes = [lane["id"] for lane in lanes] if answer_lanes is None else answer_lanes
    messages = [{"seq": 1, "role": "user", "content": "Hello?"}]
    messages += [
        {"seq": seq, "role": "assistant", "content": "Hi.", "lane": lane, "reply_to": 1}
        for seq, lane in enumerate(answer_lanes, start=2)
    ]
    session = {"id": uuid.uuid4().hex, "user_id": "x", "title": "Imported", "kind": kind, "lanes": lanes}
    return {
        "format": "chatbot.conversations/1",
        "conversations": [{"session": session, "messages": messages}],
    }


def lanes_of(*ids: str, model: str = "smollm2-135m") -> list[dict]:
    return [{"id": lane_id, "model": model} for lane_id in ids]


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(exported(lanes_of("a")), id="one pane"),
        pytest.param(exported(lanes_of("a", "a")), id="the same pane twice"),
        pytest.param(exported(lanes_of(*(chr(ord("a") + i) for i in range(12)))), id="twelve panes"),
        pytest.param(exported(lanes_of("x", "y")), id="panes the service does not name"),
        pytest.param(exported(lanes_of("b", "a"), kind="arena"), id="an arena is checked too"),
        pytest.param(exported(lanes_of("a", "b"), answer_lanes=["a", "q"]), id="an answer of no pane"),
        pytest.param(exported(lanes_of("a", "b"), kind="chat"), id="a chat with panes"),
    ],
)
def test_an_import_with_panes_the_service_would_not_make_is_refused(document: dict, mallory: httpx.Client):
    response = mallory.post("/sessions/import", json=document)
    assert response.status_code == 422, response.text
    assert "pane" in response.json()["error"]["message"]
    assert mallory.get("/sessions").json()["sessions"] == [], "nothing is saved"


def test_a_model_not_served_here_is_kept_as_history_but_not_continued(mallory: httpx.Client):
    document = exported([{"id": "a", "model": "retired-model"}, {"id": "b", "model": "smollm2-135m"}])
    assert mallory.post("/sessions/import", json=document).json() == {"imported": 1, "skipped": 0}
    (session,) = mallory.get("/sessions").json()["sessions"]
    assert [lane["model"] for lane in session["lanes"]] == ["retired-model", "smollm2-135m"]

    response = mallory.post(
        "/compare", json={"session_id": session["id"], "message": "More?", "parameters": SHORT}
    )
    assert response.status_code == 422
    assert "cannot be continued" in response.json()["error"]["message"]
    assert len(mallory.get(f"/sessions/{session['id']}").json()["messages"]) == 3, "nothing is saved"


def test_a_session_the_previous_release_imported_with_twelve_panes_is_not_continued(
    mallory: httpx.Client, mallory_id: str, postgres_server_url: str, api_database: str
):
    """Written into the API's own database as the previous release's import wrote it."""
    pool = ConnectionPool(create_database(postgres_server_url, api_database), max_connections=2)
    try:
        store = PostgresHistoryStore(pool)
        session = store.create_session(
            Session(
                user_id=mallory_id,
                title="Twelve panes",
                kind="compare",
                lanes=[Lane(id=f"lane{i}", model="smollm2-135m") for i in range(12)],
            )
        )
        store.append_message(mallory_id, session.id, Message(role="user", content="Hello?"))
    finally:
        pool.close()
    response = mallory.post(
        "/compare", json={"session_id": session.id, "message": "Go.", "parameters": SHORT}
    )
    assert response.status_code == 422
    assert "12 panes" in response.json()["error"]["message"]
    assert len(mallory.get(f"/sessions/{session.id}").json()["messages"]) == 1, "no model was asked"


def test_a_stop_names_only_the_sessions_own_panes(mallory: httpx.Client):
    events = stream_events(
        mallory,
        "/compare",
        {"models": ["smollm2-135m", "gemma3-270m"], "message": "Hi.", "parameters": SHORT},
    )
    stop = f"/sessions/{events[0]['session_id']}/stop"
    for lane in ("c", "x" * 100_000, "*"):
        response = mallory.post(stop, json={"lane": lane})
        assert response.status_code == 422, (lane[:10], response.text)
        assert "has no pane" in response.json()["error"]["message"]
        assert len(response.text) < 1000, "the answer does not echo what was sent"
    assert mallory.post(stop, json={"lane": "b"}).status_code == 202
    assert mallory.post(stop, json={}).status_code == 202

    chat = stream_events(mallory, "/chat", {"model": "smollm2-135m", "message": "Hi.", "parameters": SHORT})
    chat_stop = f"/sessions/{chat[0]['session_id']}/stop"
    assert mallory.post(chat_stop, json={"lane": "a"}).status_code == 422
    assert mallory.post(chat_stop).status_code == 202
