"""Feedback on answers (issue 23), against both real stores (the `store` fixture): one thumb per
user per answer, counted atomically; imported and failed answers kept but never counted; the
approval rate's Wilson interval."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chatbot.api.everyday import FeedbackRequest
from chatbot.api.records import Lane, Message, Session, imported_session_id
from chatbot.chat.feedback import (
    FAILED_ANSWER,
    IMPORTED_ANSWER,
    AnswerNotFoundError,
    Feedback,
    FeedbackCounts,
    FeedbackExistsError,
    approvals,
    give_feedback,
    wilson_interval,
)
from chatbot.chat.store import HistoryStore, SessionNotFoundError
from chatbot.errors import InvalidRequestError


def conversation(store: HistoryStore, user: str = "alice", *, session_id: str | None = None, **answer) -> str:
    session = Session(user_id=user, **({"id": session_id} if session_id else {}))
    store.create_session(session)
    store.append_message(user, session.id, Message(role="user", content="Name a colour."))
    store.append_message(
        user,
        session.id,
        Message(role="assistant", content="Blue.", reply_to=1, **({"model": "smollm2-135m"} | answer)),
    )
    return session.id


def thumb(rating: str = "up", seq: int = 2, comment: str | None = None) -> FeedbackRequest:
    return FeedbackRequest(seq=seq, rating=rating, comment=comment)


def test_a_thumb_on_an_answer_counts_for_the_answers_model(store: HistoryStore):
    session_id = conversation(store)
    given = give_feedback(store, store, "alice", session_id, thumb("up", comment="  Short and right. "))
    assert (given.model, given.void_reason, given.comment) == ("smollm2-135m", None, "Short and right.")
    assert store.session_feedback("alice", session_id) == [given]
    counts = store.feedback_counts()
    assert (counts.up, counts.down, counts.voided) == ({"smollm2-135m": 1}, {}, {})


def test_one_thumb_per_user_per_answer_and_a_second_counts_nothing(store: HistoryStore):
    session_id = conversation(store)
    give_feedback(store, store, "alice", session_id, thumb("up"))
    with pytest.raises(FeedbackExistsError):
        give_feedback(store, store, "alice", session_id, thumb("down"))
    assert store.feedback_counts().up == {"smollm2-135m": 1}
    assert store.feedback_counts().down == {}


def test_thumbs_given_at_once_on_one_answer_count_once(store: HistoryStore):
    session_id = conversation(store)

    def give(rating: str) -> bool:
        try:
            give_feedback(store, store, "alice", session_id, thumb(rating))
            return True
        except FeedbackExistsError:
            return False

    with ThreadPoolExecutor(8) as pool:
        accepted = list(pool.map(give, ["up", "down"] * 6))
    assert accepted.count(True) == 1
    counts = store.feedback_counts()
    assert sum(counts.up.values()) + sum(counts.down.values()) == 1


def test_an_imported_answer_is_kept_but_never_moves_a_models_rate(store: HistoryStore):
    session_id = conversation(store, session_id=imported_session_id("alice", "from-elsewhere"))
    given = give_feedback(store, store, "alice", session_id, thumb("down"))
    assert given.void_reason == IMPORTED_ANSWER
    assert not given.as_shown().counted
    counts = store.feedback_counts()
    assert (counts.up, counts.down, counts.voided) == ({}, {}, {IMPORTED_ANSWER: 1})
    assert approvals(counts).models == []


def test_a_failed_answer_is_kept_but_not_counted(store: HistoryStore):
    session_id = conversation(store, status="error", error="The model server is down.")
    assert give_feedback(store, store, "alice", session_id, thumb("down")).void_reason == FAILED_ANSWER
    assert store.feedback_counts().down == {}


def test_feedback_goes_only_on_an_answer_of_the_users_own_chat(store: HistoryStore):
    session_id = conversation(store)
    with pytest.raises(SessionNotFoundError):
        give_feedback(store, store, "bob", session_id, thumb())
    with pytest.raises(AnswerNotFoundError):
        give_feedback(store, store, "alice", session_id, thumb(seq=1))  # the question, not an answer
    with pytest.raises(AnswerNotFoundError):
        give_feedback(store, store, "alice", session_id, thumb(seq=9))
    arena = Session(user_id="alice", kind="arena", lanes=[Lane(id="a", model="x"), Lane(id="b", model="y")])
    store.create_session(arena)
    with pytest.raises(InvalidRequestError, match="vote"):
        give_feedback(store, store, "alice", arena.id, thumb())
    assert store.feedback_counts().up == {}


def test_every_users_feedback_is_listed_oldest_first_for_the_export(store: HistoryStore):
    first, second = conversation(store, "alice"), conversation(store, "bob", model="gemma3-270m")
    give_feedback(store, store, "alice", first, thumb("up"))
    give_feedback(store, store, "bob", second, thumb("down", comment="Wrong."))
    listed = store.list_feedback()
    assert [(f.user_id, f.model, f.rating) for f in listed] == [
        ("alice", "smollm2-135m", "up"),
        ("bob", "gemma3-270m", "down"),
    ]
    assert store.session_feedback("bob", first) == [], "only the user's own feedback is shown back"


def test_the_wilson_interval_is_wide_for_few_thumbs_and_narrows_with_more():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(1, 1)
    assert high == pytest.approx(1.0)
    assert low == pytest.approx(0.2065, abs=1e-3)  # one 👍 is not 100% ± 0
    low, high = wilson_interval(80, 100)
    assert (low, high) == (pytest.approx(0.7112, abs=1e-3), pytest.approx(0.8666, abs=1e-3))


def test_approvals_rank_models_by_the_lower_end_of_their_interval():
    board = approvals(FeedbackCounts(up={"a": 3, "b": 1}, down={"a": 1, "c": 2}))
    assert [(row.model, row.up, row.down, row.rate) for row in board.models] == [
        ("a", 3, 1, 0.75),
        ("b", 1, 0, 1.0),
        ("c", 0, 2, 0.0),
    ], "3 of 4 ranks above 1 of 1: one thumb says little"
    for row in board.models:
        assert row.lower <= row.rate <= row.upper


def test_a_stored_thumb_reads_back_as_it_was_given():
    given = Feedback(session_id="s", seq=2, user_id="alice", rating="up", model="m")
    assert Feedback.model_validate_json(given.model_dump_json()) == given


def test_feedback_is_exported_beside_the_battles(store: HistoryStore, tmp_path, monkeypatch, capsys):
    from chatbot.chat import battles
    from chatbot.chat.feedback_export import FeedbackLine, feedback_path

    kept = conversation(store, "alice")
    give_feedback(store, store, "alice", kept, thumb("up", comment="Right."))
    gone = conversation(store, "bob")
    give_feedback(store, store, "bob", gone, thumb("down"))
    store.delete_session("bob", gone)
    monkeypatch.setattr(battles, "_open_store", lambda: store)
    path = tmp_path / "battles.jsonl"
    assert battles.main(["export", str(path)]) == 0
    assert "2 answers' feedback" in capsys.readouterr().out
    assert feedback_path(path) == tmp_path / "battles.feedback.jsonl"
    lines = [FeedbackLine.model_validate_json(line) for line in feedback_path(path).read_text().splitlines()]
    assert [(line.session_id, line.rating, line.comment) for line in lines] == [
        (kept, "up", "Right."),
        (gone, "down", None),
    ]
    assert (lines[0].prompt, lines[0].answer, lines[0].model, lines[0].counted) == (
        "Name a colour.",
        "Blue.",
        "smollm2-135m",
        True,
    )
    assert (lines[1].prompt, lines[1].answer, lines[1].model) == (None, None, "smollm2-135m")
    assert lines[0].judge == battles.judge_of("alice") != "alice"
    assert path.read_text() == "", "no arena votes: the battles file is there, empty"
