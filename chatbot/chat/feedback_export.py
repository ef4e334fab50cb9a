"""Feedback exported with the battles (issue 23): `python -m chatbot.chat.battles export FILE`
also writes FILE's feedback beside it (`battles.jsonl` → `battles.feedback.jsonl`), one JSON
object per thumb, oldest first:

| field | meaning |
|---|---|
| `question_id` | `session_id#seq`: the answer judged |
| `session_id`, `seq` | the session and the answer's position in it |
| `judge` | who gave it (a hash of the user id, as in the battles) |
| `rating`, `comment` | `up` or `down`, and the user's words (or null) |
| `model` | the answer's model |
| `prompt`, `answer` | the question and the answer's text, where the session still exists |
| `counted`, `void_reason` | whether the approval rate counts it, and if not, why (`imported_answer`, `failed_answer`) |
| `created_at` | when it was given (ISO 8601, UTC) |
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from chatbot.api.everyday import Rating
from chatbot.api.records import Message
from chatbot.chat.chat_store import ChatStore
from chatbot.chat.feedback import Feedback, FeedbackStore
from chatbot.chat.store import HistoryStore, SessionNotFoundError


class FeedbackLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    question_id: str
    session_id: str
    seq: int
    judge: str
    rating: Rating
    comment: str | None
    model: str | None
    prompt: str | None
    answer: str | None
    counted: bool
    void_reason: str | None
    created_at: datetime


def feedback_path(battles_file: Path) -> Path:
    """Where the feedback goes beside a battles file."""
    return battles_file.with_name(f"{battles_file.stem}.feedback.jsonl")


def feedback_lines(store: HistoryStore, feedback_store: FeedbackStore) -> Iterator[FeedbackLine]:
    from chatbot.chat.battles import judge_of  # the battles module runs this one's export

    sessions: dict[tuple[str, str], list[Message]] = {}
    for feedback in feedback_store.list_feedback():
        key = (feedback.user_id, feedback.session_id)
        if key not in sessions:
            sessions[key] = _messages(store, feedback)
        yield _line(feedback, sessions[key], judge_of(feedback.user_id))


def _messages(store: HistoryStore, feedback: Feedback) -> list[Message]:
    try:
        return store.list_messages(feedback.user_id, feedback.session_id)
    except SessionNotFoundError:
        return []  # deleted since: the thumb and its model remain


def _line(feedback: Feedback, messages: list[Message], judge: str) -> FeedbackLine:
    by_seq = {message.seq: message for message in messages}
    answer = by_seq.get(feedback.seq)
    prompt = by_seq.get(answer.reply_to) if answer and answer.reply_to else None
    return FeedbackLine(
        question_id=f"{feedback.session_id}#{feedback.seq}",
        session_id=feedback.session_id,
        seq=feedback.seq,
        judge=judge,
        rating=feedback.rating,
        comment=feedback.comment,
        model=feedback.model,
        prompt=prompt.content if prompt else None,
        answer=answer.content if answer else None,
        counted=feedback.void_reason is None,
        void_reason=feedback.void_reason,
        created_at=feedback.created_at,
    )


def write_feedback(store: ChatStore, path: Path) -> int:
    """The store's feedback as JSONL at `path`; returns how many lines."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for line in feedback_lines(store, store):
            out.write(line.model_dump_json() + "\n")
            count += 1
    return count
