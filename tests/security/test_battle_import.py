"""Item 16: an administrator's battles import never touches a live session. A line naming a
user's arena round that has no vote yet neither reveals its models nor takes the round's vote."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx

from chatbot.api.records import Lane, Message, Session, Vote
from chatbot.api.users import UsersFile
from chatbot.chat.battles import battles, import_battles, read_battles
from chatbot.chat.sessions import SessionQueries
from chatbot.chat.store import HistoryStore
from chatbot.chat.vote_rules import VoteRules
from lambdas.chat_api.auth import LocalTokens
from tests.chatbot.chat.conftest import dynamodb_store, postgres_store, store  # noqa: F401 (fixtures)
from tests.lambdas.chat_api.conftest import api_url, client_for, secret_file, tokens  # noqa: F401 (fixtures)
from tests.lambdas.chat_api.test_app import SHORT, stream_events


def battle_naming(session_id: str, round_: int) -> str:
    return json.dumps(
        {
            "question_id": f"{session_id}#{round_}",
            "judge": "someone",
            "tstamp": 1764583200.0,
            "turn": round_,
            "session_id": session_id,
            "round": round_,
            "choice": "left",
            "models": ["smollm2-135m", "gemma3-270m"],
            "lanes": ["a", "b"],
            "created_at": "2026-12-01T09:00:00+00:00",
        }
    )


def test_an_imported_battle_naming_a_live_round_leaves_it_hidden_and_votable(
    api_url: str,  # noqa: F811
    tokens: LocalTokens,  # noqa: F811
    secret_file: Path,  # noqa: F811
):
    admin_name = f"root-{uuid.uuid4().hex[:8]}"
    users = UsersFile(secret_file.parent / "users.yaml")
    users.add(admin_name, "roots password", admin=True)
    users.add("arena-player", "a player's password")  # the API takes only its accounts' tokens
    admin_token = tokens.issue(admin_name, roles=("admin",))
    with client_for(api_url, tokens, "arena-player") as player:
        live = stream_events(player, "/compare", {"arena": True, "message": "Say hi.", "parameters": SHORT})[
            0
        ]
        with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {admin_token}"}) as admin:
            imported = admin.post(
                "/admin/battles", content=battle_naming(live["session_id"], live["round"]) + "\n"
            )
        assert imported.json() == {"imported": 1, "skipped": 0}

        conversation = player.get(f"/sessions/{live['session_id']}").json()
        assert conversation["revealed"] is False
        assert conversation["voted_rounds"] == []
        assert {lane["model"] for lane in conversation["session"]["lanes"]} == {"Model A", "Model B"}
        vote = player.post(
            "/votes", json={"session_id": live["session_id"], "round": live["round"], "choice": "tie"}
        )
        assert vote.status_code == 200, "the round's vote is still the player's"


def test_in_either_store_an_imported_battle_stays_apart_from_live_sessions(store: HistoryStore):  # noqa: F811
    session = store.create_session(
        Session(
            user_id="alice",
            title="Live",
            kind="arena",
            lanes=[Lane(id="a", model="smollm2-135m"), Lane(id="b", model="gemma3-270m")],
        )
    )
    store.append_message("alice", session.id, Message(role="user", content="Hi."))
    lines = read_battles([battle_naming(session.id, 1)])
    assert import_battles(store, lines) == 1
    assert import_battles(store, lines) == 0, "imported again: nothing added"
    assert store.session_votes(session.id) == []
    assert SessionQueries(store).get_conversation("alice", session.id).revealed is False


def test_a_file_exported_from_this_store_adds_nothing_when_imported_into_it(store: HistoryStore):  # noqa: F811
    store.add_vote(
        Vote(session_id="s1", round=1, user_id="alice", choice="left", models=["m1", "m2"], anonymous=True)
    )
    own = list(battles(store, VoteRules()))
    assert import_battles(store, own) == 0
    assert len(store.list_votes()) == 1
