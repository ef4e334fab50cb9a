"""Deleting a user's data: one contract, two real stores (Postgres, and DynamoDB under moto).

Two users whose data interleaves, one's name a prefix of the other's ("al" and "alice"): erasing
"al" leaves "alice" exactly as she was, removes everything of al's but his arena votes, and
keeps those under an opaque id, so the leaderboard reads the same before and after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest

from chatbot.api.everyday import SharedMessage
from chatbot.api.records import AnswerFigures, Message, Session, Vote, utc_now
from chatbot.chat.api_keys import ApiKey
from chatbot.chat.erasure import ERASED_PREFIX, StoreErasure, eraser_for
from chatbot.chat.feedback import Feedback
from chatbot.chat.leaderboard import build_leaderboard, leaderboard_from_counts
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.chat.shares import Share
from chatbot.chat.vote_rules import VoteRules
from chatbot.errors import InvalidRequestError
from chatbot.policy.limits import Limits
from chatbot.policy.quotas import QuotaStore, TokenPrice
from chatbot.policy.stream_leases import StreamLeases, TooManyStreamsError

USERS = ("al", "alice")


@dataclass
class Backend:
    store: object  # the history store (HistoryStore plus the everyday mixins)
    quotas: QuotaStore
    eraser: StoreErasure
    leases: StreamLeases


@pytest.fixture
def postgres_backend(postgres_store) -> Backend:
    from chatbot.policy.postgres_quotas import PostgresQuotaStore
    from chatbot.policy.postgres_stream_leases import PostgresStreamLeases

    # The quota ledger and the stream leases live in the history's database, as the API wires them.
    quotas = PostgresQuotaStore(postgres_store._pool)
    leases = PostgresStreamLeases(postgres_store._pool, cap=1)
    return Backend(postgres_store, quotas, eraser_for(postgres_store), leases)


@pytest.fixture
def dynamodb_backend(dynamodb_store) -> Backend:
    from chatbot.policy.dynamodb_quotas import DynamoDBQuotaStore
    from chatbot.policy.dynamodb_stream_leases import DynamoDBStreamLeases

    quotas = DynamoDBQuotaStore("history", region="us-east-1")
    leases = DynamoDBStreamLeases("history", cap=1, region="us-east-1")
    return Backend(dynamodb_store, quotas, eraser_for(dynamodb_store), leases)


@pytest.fixture(params=["postgres", "dynamodb"])
def backend(request) -> Backend:
    return request.getfixturevalue(f"{request.param}_backend")


def fill(backend: Backend) -> None:
    """A little of everything for both users, written in turns so that their rows interleave."""
    store, quotas = backend.store, backend.quotas
    start = utc_now() - timedelta(hours=1)
    for turn in range(2):
        for number, user in enumerate(USERS):
            at = start + timedelta(minutes=10 * turn + number)
            session = store.create_session(
                Session(user_id=user, title=f"{user} chat {turn}", created_at=at, updated_at=at)
            )
            store.append_message(user, session.id, Message(role="user", content="hi", created_at=at))
            answer = store.append_message(
                user, session.id, Message(role="assistant", content="hello", model="m-a", created_at=at)
            )
            store.add_feedback(
                Feedback(session_id=session.id, seq=answer.seq, user_id=user, rating="up", model="m-a")
            )
            store.mark_session(user, session.id, pinned=True, folder="work")
            shared = SharedMessage(seq=1, role="user", content="hi", created_at=at)
            store.add_share(
                Share(user_id=user, session_id=session.id, title="t", kind="chat", messages=[shared])
            )
            key = store.create_api_key(
                ApiKey(user_id=user, name=f"key {turn}", prefix="sk-x", key_hash=f"{user}-{turn}")
            )
            for round_ in (1, 2):
                store.add_vote(
                    Vote(
                        session_id=f"arena-{user}-{turn}",
                        round=round_,
                        user_id=user,
                        choice="left" if number else "right",
                        models=["m-a", "m-b"],
                        anonymous=True,
                        answers=[AnswerFigures(chars=10), AnswerFigures(chars=30)],
                        created_at=at + timedelta(seconds=round_),
                    ),
                    max_per_pair_per_day=3,  # al's fourth vote of the day is voided by the limit
                )
            settled = quotas.admit(
                user,
                model="m-a",
                prompt_tokens=5,
                max_new_tokens=10,
                key_id=key.id,
                price=TokenPrice(input=0.001, output=0.002),
            )
            quotas.settle(settled, 5, 7)
        quotas.set_limits(f"user:{USERS[turn]}", Limits(tokens_per_day=10_000), actor="admin")
    for user in USERS:
        quotas.admit(user, model="m-b", prompt_tokens=3, max_new_tokens=4)  # held, never settled
    store.revoke_api_key("al", store.list_api_keys("al")[0].id, utc_now())


def view(backend: Backend, user: str) -> dict:
    """Everything the stores show of one user."""
    store, quotas = backend.store, backend.quotas
    sessions = store.list_sessions(user, limit=100).sessions
    today = utc_now().date().isoformat()
    return {
        "sessions": sessions,
        "messages": [store.list_messages(user, s.id) for s in sessions],
        "feedback": [store.session_feedback(user, s.id) for s in sessions],
        "marks": store.list_marks(user),
        "shares": store.list_shares(user),
        "keys": store.list_api_keys(user),
        "usage": quotas.usage_by_day_and_model(user, today, today),
        "by_key": quotas.usage_by_key(user, today, today),
        "standing": quotas.standing(user, ["user"]),
        "limits": quotas.stored_limits().get(f"user:{user}"),
        "votes": [v for v in store.list_votes() if v.user_id == user],
    }


def test_erasing_a_user_deletes_their_data_and_reports_how_much(backend: Backend):
    fill(backend)
    report = backend.eraser.erase_user("al")

    assert report.model_dump() == {
        "sessions": 2,
        "messages": 4,
        "shares": 2,
        "feedback": 2,
        "marks": 2,
        "attachments": 0,  # kept in the blob store, not the history's tables
        "documents": 0,
        "chunks": 0,
        "files": 0,
        "api_keys": 2,
        "usage_rows": 2,
        "holds": 1,
        "counters": report.counters,  # how many periods and kinds: checked below
        "limits": 1,
        "votes_anonymised": 4,
    }
    assert report.counters >= 2  # the user's day and month counters at least, and the keys'
    left = view(backend, "al")
    assert all(not value for name, value in left.items() if name != "standing")
    assert all(standing.used == 0 for standing in left["standing"])
    assert backend.store.find_api_key("al-0") is None


def test_another_users_data_is_untouched_even_when_their_name_starts_the_same(backend: Backend):
    fill(backend)
    before = view(backend, "alice")
    today = utc_now().date().isoformat()
    organisation_before = [
        t for t in backend.quotas.usage_by_user_and_model(today, today) if t.user_id != "al"
    ]

    backend.eraser.erase_user("al")

    assert view(backend, "alice") == before
    organisation = backend.quotas.usage_by_user_and_model(today, today)
    assert organisation == organisation_before  # al's lines gone, alice's as they were
    assert backend.store.find_api_key("alice-0") is not None
    assert len(backend.store.list_feedback()) == 2


def test_erasing_again_finds_nothing_and_changes_nothing(backend: Backend):
    fill(backend)
    backend.eraser.erase_user("al")
    votes = backend.store.list_votes()

    assert backend.eraser.erase_user("al").total() == 0
    assert backend.store.list_votes() == votes
    assert backend.eraser.erase_user("nobody").total() == 0


def test_arena_votes_stay_under_one_opaque_id_and_the_leaderboard_does_not_change(backend: Backend):
    fill(backend)
    store = backend.store
    rules = VoteRules(max_votes_per_pair_per_day=3)
    counts_before = store.arena_counts()
    votes_before = store.list_votes()

    backend.eraser.erase_user("al")

    votes = store.list_votes()
    assert len(votes) == len(votes_before) == 8
    erased = {v.user_id for v in votes} - {"alice"}
    assert len(erased) == 1  # one id for all of al's votes, so the daily limit judges them alike
    (opaque,) = erased
    assert opaque.startswith(ERASED_PREFIX)
    assert "al" not in opaque.removeprefix(ERASED_PREFIX)
    assert [v.model_copy(update={"user_id": "x"}) for v in votes] == [
        v.model_copy(update={"user_id": "x"}) for v in votes_before
    ]
    assert store.arena_counts().counters == counts_before.counters
    assert leaderboard_from_counts(store.arena_counts()) == leaderboard_from_counts(counts_before)
    assert build_leaderboard(votes, rules=rules) == build_leaderboard(votes_before, rules=rules)
    assert store.backfill_arena_counts() == 0


def store_as_an_older_release_did(backend: Backend, body: dict) -> None:
    """A vote as releases before lanes and categories wrote it: the body without those fields."""
    store = backend.store
    if isinstance(store, PostgresHistoryStore):
        with store._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO chat_votes (session_id, round, anonymous, created_at, body) VALUES (%s, 1, true, %s, %s)",
                (body["session_id"], body["created_at"], json.dumps(body)),
            )
    else:
        store._table.put_item(
            Item={
                "pk": "VOTES",
                "sk": f"{body['session_id']}#{1:010d}",
                "anonymous": True,
                "body": json.dumps(body),
            }
        )


def test_a_vote_an_older_release_stored_is_anonymised_and_keeps_its_shape(backend: Backend):
    old = {
        "session_id": "old-arena",
        "round": 1,
        "user_id": "al",
        "choice": "left",
        "models": ["m-a", "m-b"],
        "anonymous": True,
        "created_at": "2025-01-02T03:04:05+00:00",
    }
    store_as_an_older_release_did(backend, old)
    (before,) = backend.store.list_votes()

    assert backend.eraser.erase_user("al").votes_anonymised == 1

    (after,) = backend.store.list_votes()
    assert after.user_id.startswith(ERASED_PREFIX)
    assert after.model_copy(update={"user_id": "al"}) == before
    assert after.lanes == ["a", "b"]  # still read as the older release's votes are


@pytest.mark.parametrize("nobody", ["", "  ", ".", "..", "al/.."])
def test_an_empty_name_or_one_naming_another_folder_is_refused_before_anything_is_deleted(
    backend: Backend, nobody: str
):
    fill(backend)
    before = [view(backend, user) for user in USERS]

    with pytest.raises(InvalidRequestError):
        backend.eraser.erase_user(nobody)

    assert [view(backend, user) for user in USERS] == before


def test_the_leases_of_streams_a_user_left_open_go_and_anothers_stay(backend: Backend):
    for user in USERS:
        backend.leases.acquire(user)  # a stream each, never released (the process died)

    backend.eraser.erase_user("al")

    backend.leases.acquire("al")  # the cap is 1: al's old lease is gone
    with pytest.raises(TooManyStreamsError):
        backend.leases.acquire("alice")
