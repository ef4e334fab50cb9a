"""The contract of the everyday chat features (issue 23): feedback on answers, share links, and
history search, pins and folders. The chat API answers with these; the web app reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: 👍 or 👎.
Rating = Literal["up", "down"]
#: Longest feedback comment kept, in characters.
MAX_COMMENT_CHARS = 2000


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedbackRequest(_Contract):
    """POST /sessions/{session_id}/feedback: a thumb on one answer of the user's own session."""

    #: The answer's seq (its position in the session, from the session's messages).
    seq: int = Field(ge=1)
    rating: Rating
    #: What was good or bad about it, in the user's words (optional).
    comment: str | None = Field(None, max_length=MAX_COMMENT_CHARS)


class FeedbackOut(_Contract):
    session_id: str
    seq: int
    rating: Rating
    comment: str | None
    #: The answer's model (never taken from the request: the stored answer names it).
    model: str | None
    #: Whether it counts towards the model's approval rate; if not, why (e.g. an imported answer).
    counted: bool
    void_reason: str | None = None
    created_at: datetime


class ModelApproval(_Contract):
    """One model's share of thumbs up, with its 95% Wilson score interval."""

    model: str
    up: int
    down: int
    #: up / (up + down).
    rate: float
    lower: float
    upper: float


class Approvals(_Contract):
    """GET /feedback/approval: every model with counted feedback, highest rate first."""

    models: list[ModelApproval]
    #: Feedback kept but not counted (imported answers), by reason.
    voided: dict[str, int] = Field(default_factory=dict)
