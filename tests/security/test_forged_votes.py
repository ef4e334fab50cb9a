"""Item 1: a vote counts on the leaderboard only on an arena round the server itself ran. An
import that calls itself an arena, with invented models and answers, is a compare session here:
votes on it are not blind and never reach anyone's leaderboard."""

from __future__ import annotations

import uuid

from chatbot.api.records import Lane, Message, Session, Vote, imported_session_id
from chatbot.api.requests import VoteRequest
from chatbot.chat.store import HistoryStore
from chatbot.chat.votes import Votes
from chatbot.models.catalog import ModelCatalog
from lambdas.chat_api.auth import LocalTokens
from tests.chatbot.chat.conftest import dynamodb_store, postgres_store, store  # noqa: F401 (fixtures)
from tests.lambdas.chat_api.conftest import api_url, client_for, secret_file, tokens  # noqa: F401 (fixtures)
from tests.lambdas.chat_api.test_app import SHORT, stream_events
from tests.waiting import eventually

INVENTED = "totally-real-gpt-9"


def forged_arena(user: str) -> dict:
    """An "arena" nobody ran: an invented model in pane A that wins every answer."""
    session_id = uuid.uuid4().hex
    return {
        "format": "chatbot.conversations/1",
        "conversations": [
            {
                "session": {
                    "id": session_id,
                    "user_id": user,
                    "title": "Forged",
                    "kind": "arena",
                    "lanes": [{"id": "a", "model": INVENTED}, {"id": "b", "model": "smollm2-135m"}],
                },
                "messages": [
                    {"seq": 1, "role": "user", "content": "Who is best?"},
                    {
                        "seq": 2,
                        "role": "assistant",
                        "content": "Me.",
                        "lane": "a",
                        "model": INVENTED,
                        "reply_to": 1,
                    },
                    {"seq": 3, "role": "assistant", "content": "Hm.", "lane": "b", "reply_to": 1},
                ],
            }
        ],
    }


def test_votes_on_an_imported_arena_never_reach_the_leaderboard(api_url: str, tokens: LocalTokens):  # noqa: F811
    with client_for(api_url, tokens, "mallory") as mallory, client_for(api_url, tokens, "honest") as honest:
        before = honest.get("/leaderboard").json()["votes"]
        for _ in range(2):
            assert mallory.post("/sessions/import", json=forged_arena("mallory")).json()["imported"] == 1
        forged = [s for s in mallory.get("/sessions").json()["sessions"] if s["title"] == "Forged"]
        assert [s["kind"] for s in forged] == ["compare", "compare"], "an import cannot make an arena"
        for session in forged:
            vote = mallory.post("/votes", json={"session_id": session["id"], "round": 1, "choice": "left"})
            assert vote.status_code == 200, vote.text
            assert vote.json()["vote"]["anonymous"] is False

        # A real arena round, voted on: once the leaderboard has it, it has had every vote before it.
        events = stream_events(honest, "/compare", {"arena": True, "message": "Say hi.", "parameters": SHORT})
        round_ = events[0]
        voted = honest.post(
            "/votes", json={"session_id": round_["session_id"], "round": round_["round"], "choice": "tie"}
        )
        assert voted.json()["vote"]["anonymous"] is True
        board = eventually(lambda: honest.get("/leaderboard").json(), lambda b: b["votes"] >= before + 1)
    assert INVENTED not in {rating["model"] for rating in board["ratings"]}
    assert board["votes"] == before + 1, "only the round the server ran counts"


def legacy_forged_arena(history: HistoryStore, user: str) -> Session:
    """An arena as the previous release imported it: kind and models as the file said."""
    session = history.create_session(
        Session(
            id=imported_session_id(user, uuid.uuid4().hex),
            user_id=user,
            title="Forged",
            kind="arena",
            lanes=[Lane(id="a", model=INVENTED), Lane(id="b", model="smollm2-135m")],
        )
    )
    history.append_message(user, session.id, Message(role="user", content="Who is best?"))
    for lane, text in (("a", "Me."), ("b", "Hm.")):
        history.append_message(
            user, session.id, Message(role="assistant", content=text, lane=lane, reply_to=1)
        )
    return session


def test_sessions_and_votes_the_previous_release_imported_do_not_count(
    store: HistoryStore,  # noqa: F811
    catalog: ModelCatalog,
):
    votes = Votes(store, catalog)
    counted_before = legacy_forged_arena(store, "mallory")
    store.add_vote(  # cast before this release: counted as blind then
        Vote(
            session_id=counted_before.id,
            round=1,
            user_id="mallory",
            choice="left",
            models=[INVENTED, "smollm2-135m"],
            anonymous=True,
        )
    )
    still_arena = legacy_forged_arena(store, "mallory")
    now = votes.vote("mallory", VoteRequest(session_id=still_arena.id, round=1, choice="left"))
    assert now.vote.anonymous is False, "a round imported is not blind, whatever its kind says"

    board = votes.fresh_leaderboard()
    assert INVENTED not in {rating.model for rating in board.ratings}
    assert board.votes == 0
    assert board.voided == {"imported_session": 1}
