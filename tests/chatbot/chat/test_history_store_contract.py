"""One contract, two real stores: DynamoDB (moto) and Postgres (embedded, real)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from chatbot.api.records import Lane, Message, Session, Vote, imported_session_id, utc_now
from chatbot.chat.cursor import InvalidCursorError, encode_cursor
from chatbot.chat.fit_store import StoredFit
from chatbot.chat.leaderboard import Leaderboard
from chatbot.chat.store import HistoryStore, SessionNotFoundError, VoteExistsError
from chatbot.models.events import Metrics, Source, Usage


def session_for(store: HistoryStore, user: str = "alice", **fields) -> Session:
    return store.create_session(Session(user_id=user, **fields))


def say(store: HistoryStore, session: Session, text: str, role: str = "user", **fields) -> Message:
    return store.append_message(session.user_id, session.id, Message(role=role, content=text, **fields))


def test_a_session_is_stored_and_read_back(store: HistoryStore):
    created = session_for(store, title="Trip to Lisbon", kind="compare", lanes=[Lane(id="a", model="m1")])
    assert store.get_session("alice", created.id) == created


def test_messages_keep_every_field_and_their_order(store: HistoryStore):
    session = session_for(store)
    prompt = say(store, session, "Hello")
    answer = say(
        store,
        session,
        "Hi there",
        role="assistant",
        model="smollm2-135m",
        parameters={"temperature": 0.7},
        usage=Usage(prompt_tokens=12, completion_tokens=3),
        metrics=Metrics(ttft_ms=50.0, tokens_per_s=40.0, total_ms=120.0),
        sources=[Source(document_id="d1", document_name="guide.pdf", chunk_index=2, score=0.8)],
        reply_to=1,
        status="stopped",
        lane="a",
    )
    assert (prompt.seq, answer.seq) == (1, 2)
    assert store.list_messages("alice", session.id) == [prompt, answer]
    assert store.get_session("alice", session.id).message_count == 2


def test_sessions_are_listed_newest_first_in_pages(store: HistoryStore):
    sessions = [session_for(store, title=f"chat {index}") for index in range(5)]
    for index, session in enumerate(sessions):
        say(store, session, "hi", created_at=utc_now() + timedelta(seconds=index))
    say(store, sessions[1], "back again", created_at=utc_now() + timedelta(seconds=10))

    first = store.list_sessions("alice", limit=2)
    second = store.list_sessions("alice", limit=2, cursor=first.cursor)
    third = store.list_sessions("alice", limit=2, cursor=second.cursor)
    titles = [session.title for page in (first, second, third) for session in page.sessions]
    assert titles == ["chat 1", "chat 4", "chat 3", "chat 2", "chat 0"]
    assert third.cursor is None or store.list_sessions("alice", cursor=third.cursor).sessions == []


@pytest.mark.parametrize(
    "cursor", ["null", "%%%", "gICA", encode_cursor({"pk": "x"}), encode_cursor(["not a date", "id"])]
)
def test_a_cursor_the_store_did_not_give_out_is_refused_as_such(store: HistoryStore, cursor: str):
    store.create_session(Session(user_id="alice"))
    with pytest.raises(InvalidCursorError):
        store.list_sessions("alice", cursor=cursor)


def test_a_cursor_of_anothers_page_shows_nothing_of_theirs(store: HistoryStore):
    for _ in range(3):
        store.create_session(Session(user_id="alice"))
    store.create_session(Session(user_id="bob"))
    alices_cursor = store.list_sessions("alice", limit=1).cursor
    try:
        shown = store.list_sessions("bob", cursor=alices_cursor).sessions
    except InvalidCursorError:
        shown = []
    assert all(session.user_id == "bob" for session in shown)


def test_rename_delete_and_delete_all(store: HistoryStore):
    keep, drop = session_for(store), session_for(store)
    say(store, drop, "soon gone")
    assert store.rename_session("alice", keep.id, "Renamed").title == "Renamed"
    store.delete_session("alice", drop.id)
    with pytest.raises(SessionNotFoundError):
        store.get_session("alice", drop.id)
    with pytest.raises(SessionNotFoundError):
        store.list_messages("alice", drop.id)
    session_for(store)
    assert store.delete_all_sessions("alice") == 2
    assert store.list_sessions("alice").sessions == []


def test_twenty_concurrent_writers_in_one_session_lose_nothing_and_keep_order(store: HistoryStore):
    session = session_for(store)

    def writer(number: int) -> list[int]:
        return [say(store, session, f"writer {number} message {index}").seq for index in range(5)]

    with ThreadPoolExecutor(20) as pool:
        seqs = list(pool.map(writer, range(20)))
    messages = store.list_messages("alice", session.id)
    assert [message.seq for message in messages] == list(range(1, 101))
    for number, writer_seqs in enumerate(seqs):
        own = [m.content for m in messages if m.content.startswith(f"writer {number} ")]
        assert own == [f"writer {number} message {index}" for index in range(5)], "each writer's order holds"
        assert writer_seqs == sorted(writer_seqs)


def test_twenty_concurrent_writers_across_sessions_lose_nothing(store: HistoryStore):
    sessions = [session_for(store, user=f"user{index % 4}") for index in range(20)]

    def writer(session: Session) -> None:
        for index in range(5):
            say(store, session, f"message {index}")

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(writer, sessions))
    for session in sessions:
        contents = [message.content for message in store.list_messages(session.user_id, session.id)]
        assert contents == [f"message {index}" for index in range(5)]


def test_one_user_can_neither_read_list_rename_nor_delete_anothers_sessions(store: HistoryStore):
    private = session_for(store, user="alice", title="Alice's secrets")
    say(store, private, "my secret")
    for attempt in (
        lambda: store.get_session("bob", private.id),
        lambda: store.list_messages("bob", private.id),
        lambda: store.rename_session("bob", private.id, "pwned"),
        lambda: store.delete_session("bob", private.id),
        lambda: say(store, private.model_copy(update={"user_id": "bob"}), "injected"),
        lambda: store.request_stop("bob", private.id, None, utc_now()),
    ):
        with pytest.raises(SessionNotFoundError):
            attempt()
    assert store.list_sessions("bob").sessions == []
    assert store.delete_all_sessions("bob") == 0
    assert store.get_session("alice", private.id).title == "Alice's secrets"
    assert [m.content for m in store.list_messages("alice", private.id)] == ["my secret"]


def test_a_long_conversation_does_not_break_the_store(store: HistoryStore):
    session = session_for(store)
    paragraph = "A long answer about distributed systems. " * 60  # about 2.5 KB
    for _ in range(200):  # about 500 KB in all: more than one DynamoDB item may hold
        say(store, session, paragraph)
    assert len(store.list_messages("alice", session.id)) == 200


def test_stop_requests_apply_to_generations_started_before_them(store: HistoryStore):
    session = session_for(store)
    started = utc_now()
    assert not store.stop_requested("alice", session.id, "a", started)
    store.request_stop("alice", session.id, "a", utc_now())
    assert store.stop_requested("alice", session.id, "a", started)
    assert not store.stop_requested("alice", session.id, "b", started), "another lane goes on"
    store.request_stop("alice", session.id, None, utc_now())
    assert store.stop_requested("alice", session.id, "b", started), "a whole-session stop reaches every lane"
    assert not store.stop_requested("alice", session.id, "b", utc_now() + timedelta(seconds=1))


def test_a_round_is_voted_on_once(store: HistoryStore):
    vote = Vote(session_id="s1", round=1, user_id="alice", choice="left", models=["a", "b"], anonymous=True)
    store.add_vote(vote)
    with pytest.raises(VoteExistsError):
        store.add_vote(vote.model_copy(update={"choice": "right"}))
    store.add_vote(vote.model_copy(update={"round": 3, "anonymous": False}))
    assert store.list_votes() == [vote]
    assert len(store.list_votes(anonymous_only=False)) == 2
    assert [v.round for v in store.session_votes("s1")] == [1, 3]
    assert store.session_votes("s2") == []


def arena_vote(number: int, choice: str = "left", **fields) -> Vote:
    values = {"session_id": f"s{number}", "round": 1, "user_id": f"voter{number}", "choice": choice}
    values |= {"models": ["m-a", "m-b"], "anonymous": True, **fields}
    return Vote(**values)


def test_fifty_concurrent_votes_add_exactly_their_counts(store: HistoryStore):
    choices = ["left"] * 20 + ["right"] * 17 + ["tie"] * 13

    def cast(number: int) -> Vote:
        return store.add_vote(arena_vote(number, choices[number]), max_per_pair_per_day=20)

    with ThreadPoolExecutor(50) as pool:
        list(pool.map(cast, range(50)))
    counts = store.arena_counts()
    assert counts.counted == 50
    assert counts.model_votes == {"m-a": 50, "m-b": 50}
    cells = counts.cells()
    assert (cells.wins.sum(), cells.losses.sum(), cells.ties.sum()) == (20, 17, 13)


def test_votes_that_do_not_count_are_kept_with_their_reason_and_reach_no_cell(store: HistoryStore):
    leak = store.add_vote(arena_vote(1, void_reason="identity_leak: the answer of A names its own model"))
    imported = store.add_vote(arena_vote(2, session_id=imported_session_id("bob", "elsewhere")))
    first, second, third = (
        store.add_vote(arena_vote(10 + n, user_id="eager"), max_per_pair_per_day=2) for n in range(3)
    )
    store.add_vote(arena_vote(20, anonymous=False))  # a compare vote: not the arena's
    assert imported.void_reason.startswith("imported_session")
    assert (first.void_reason, second.void_reason) == (None, None)
    assert third.void_reason.startswith("over_daily_limit")
    stored = {v.session_id: v.void_reason for v in store.list_votes()}
    assert stored["s12"] == third.void_reason
    assert stored["s1"] == leak.void_reason
    counts = store.arena_counts()
    assert counts.counted == 2
    assert counts.voided == {"identity_leak": 1, "imported_session": 1, "over_daily_limit": 1}
    assert counts.cells().battles == 2


def test_a_second_vote_on_a_round_adds_to_no_counter(store: HistoryStore):
    store.add_vote(arena_vote(1), max_per_pair_per_day=20)
    with pytest.raises(VoteExistsError):
        store.add_vote(arena_vote(1, "right"), max_per_pair_per_day=20)
    counts = store.arena_counts()
    assert counts.counted == 1
    assert counts.cells().losses.sum() == 0


# -- one fit for everyone: the stored fit and the refit lease (chatbot/chat/fit_store.py) --------


def fit_of(version: int, votes: int = 0) -> StoredFit:
    return StoredFit(
        version=version, fitted_at=utc_now(), board=Leaderboard(ratings=[], pairs=[], votes=votes)
    )


def test_a_fit_is_stored_only_over_an_older_version(store: HistoryStore):
    assert store.stored_fit() is None
    assert store.save_fit(fit_of(1, votes=10))
    assert not store.save_fit(fit_of(1, votes=11)), "the same version again"
    assert store.save_fit(fit_of(3, votes=30))
    assert not store.save_fit(fit_of(2, votes=20)), "a refit that outlived its lease"
    stored = store.stored_fit()
    assert stored is not None
    assert (stored.version, stored.board.votes) == (3, 30)


def test_one_refit_lease_at_a_time_until_it_runs_out(store: HistoryStore):
    now = utc_now()
    assert store.take_refit_lease("a", now, 60)
    assert not store.take_refit_lease("b", now + timedelta(seconds=59), 60)
    assert store.take_refit_lease("a", now + timedelta(seconds=30), 60), "its holder extends it"
    store.end_refit_lease("b")  # not b's to end
    assert not store.take_refit_lease("b", now + timedelta(seconds=60), 60)
    assert store.take_refit_lease("b", now + timedelta(seconds=91), 60), "a's ran out"
    store.end_refit_lease("b")
    assert store.take_refit_lease("c", now + timedelta(seconds=92), 60)


def test_of_fifty_concurrent_refitters_one_takes_the_lease(store: HistoryStore):
    now = utc_now()
    with ThreadPoolExecutor(max_workers=10) as pool:
        taken = list(pool.map(lambda i: store.take_refit_lease(f"instance-{i}", now, 60), range(50)))
    assert taken.count(True) == 1
