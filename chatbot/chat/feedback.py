"""Feedback on answers: a thumb up or down, with an optional comment, on one answer of the user's
own chat or compare session (issue 23).

A model's approval rate counts only answers this server generated: an imported conversation's
answers were written elsewhere (or by whoever wrote the file), so feedback on them is kept with
its reason and counted nowhere. One thumb per user per answer, enforced by the store's key.
The store keeps counters beside the feedback, written in the same atomic step, so the
leaderboard's approval column reads a few counters, never every thumb.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from chatbot.api.everyday import Approvals, FeedbackOut, FeedbackRequest, ModelApproval, Rating
from chatbot.api.records import is_imported_session, utc_now
from chatbot.chat.store import HistoryStore
from chatbot.errors import ChatbotError, InvalidRequestError

#: Why feedback is kept but not counted.
IMPORTED_ANSWER = "imported_answer"
FAILED_ANSWER = "failed_answer"
#: 95% two-sided normal quantile, as the arena's intervals use.
Z_95 = 1.959963984540054


class FeedbackExistsError(ChatbotError):
    code = "feedback_exists"
    http_status = 409

    def __init__(self) -> None:
        super().__init__("You already gave feedback on this answer: each answer takes one thumb.")


class AnswerNotFoundError(ChatbotError):
    code = "answer_not_found"
    http_status = 404

    def __init__(self, seq: int):
        super().__init__(
            f"This conversation has no answer at position {seq}. Feedback goes on an answer: "
            "pass the seq of an assistant message from GET /sessions/{session_id}."
        )


class Feedback(BaseModel):
    """One thumb as the stores keep it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_id: str
    seq: int
    user_id: str
    rating: Rating
    comment: str | None = None
    #: The stored answer's model.
    model: str | None = None
    #: Why it does not count towards the model's rate; None: it counts.
    void_reason: str | None = None
    created_at: datetime = Field(default_factory=utc_now)

    def as_shown(self) -> FeedbackOut:
        return FeedbackOut(counted=self.void_reason is None, **self.model_dump(exclude={"user_id"}))


class FeedbackCounts(BaseModel):
    """The counters: thumbs per model, and feedback kept but not counted, per reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    up: dict[str, int] = Field(default_factory=dict)
    down: dict[str, int] = Field(default_factory=dict)
    voided: dict[str, int] = Field(default_factory=dict)


class FeedbackStore(Protocol):
    """What the history stores add for feedback (chatbot/chat/{postgres,dynamodb}_everyday.py)."""

    def add_feedback(self, feedback: Feedback) -> Feedback:
        """Stores it and adds to its counter in one atomic step; raises FeedbackExistsError if
        this user already gave feedback on this answer (and then counts nothing)."""
        ...

    def session_feedback(self, user_id: str, session_id: str) -> list[Feedback]:
        """This user's feedback on the session's answers, by seq."""
        ...

    def list_feedback(self) -> list[Feedback]:
        """Every user's feedback, oldest first (the battles export)."""
        ...

    def feedback_counts(self) -> FeedbackCounts: ...


#: The counters' keys: "up|model", "down|model", "void|reason" (a model name holds no "|"
#: that matters: the key is split at the first one only).
def counter_key(feedback: Feedback) -> str:
    if feedback.void_reason is not None:
        return f"void|{feedback.void_reason}"
    return f"{feedback.rating}|{feedback.model}"


def counts_of(rows: Iterable[tuple[str, int]]) -> FeedbackCounts:
    kinds: dict[str, dict[str, int]] = {"up": {}, "down": {}, "void": {}}
    for key, n in rows:
        kind, _, name = key.partition("|")
        if kind in kinds and n:
            kinds[kind][name] = kinds[kind].get(name, 0) + int(n)
    return FeedbackCounts(up=kinds["up"], down=kinds["down"], voided=kinds["void"])


def give_feedback(
    store: HistoryStore,
    feedback_store: FeedbackStore,
    user_id: str,
    session_id: str,
    request: FeedbackRequest,
) -> Feedback:
    """The thumb on the user's own answer, judged here: whether it counts, and for which model
    (the stored answer says; the request cannot)."""
    session = store.get_session(user_id, session_id)  # another user's session: 404, like a missing one
    if session.kind == "arena":
        raise InvalidRequestError(
            "Arena answers are judged by the round's vote, not by thumbs: vote in Compare instead."
        )
    answer = next((m for m in store.list_messages(user_id, session_id) if m.seq == request.seq), None)
    if answer is None or answer.role != "assistant":
        raise AnswerNotFoundError(request.seq)
    reason = None
    if is_imported_session(session_id):
        reason = IMPORTED_ANSWER
    elif answer.status == "error" or not answer.model:
        reason = FAILED_ANSWER
    comment = (request.comment or "").strip() or None
    return feedback_store.add_feedback(
        Feedback(
            session_id=session_id,
            seq=request.seq,
            user_id=user_id,
            rating=request.rating,
            comment=comment,
            model=answer.model,
            void_reason=reason,
        )
    )


def wilson_interval(up: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of up/total: honest for few thumbs (one 👍 is not 100% ± 0)."""
    if total == 0:
        return 0.0, 1.0
    p = up / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    scale = 1 + z * z / total
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def approvals(counts: FeedbackCounts) -> Approvals:
    rows = []
    for model in sorted(set(counts.up) | set(counts.down)):
        up, down = counts.up.get(model, 0), counts.down.get(model, 0)
        lower, upper = wilson_interval(up, up + down)
        rows.append(
            ModelApproval(model=model, up=up, down=down, rate=up / (up + down), lower=lower, upper=upper)
        )
    # By the interval's lower end: one 👍 of one must not rank above thirty of forty.
    rows.sort(key=lambda row: (-row.lower, -row.rate, row.model))
    return Approvals(models=rows, voided=counts.voided)
