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


# -- share links ---------------------------------------------------------------------------


class ShareRequest(_Contract):
    """POST /sessions/{session_id}/share (the body may be left out)."""

    #: Viewable without signing in: refused (403) unless an administrator allowed public links.
    public: bool = False


class ShareOut(_Contract):
    """A link as its owner sees it."""

    id: str
    session_id: str
    title: str
    public: bool
    created_at: datetime
    revoked_at: datetime | None = None
    #: The API path that serves it: GET /shared/{id}.
    path: str


class SharedMessage(_Contract):
    seq: int
    role: Literal["user", "assistant"]
    content: str
    #: The compare lane; None in a chat.
    lane: str | None = None
    #: The answer's model ("Model A" where an arena still hid it when the link was made).
    model: str | None = None
    status: str = "complete"
    created_at: datetime


class SharedConversation(_Contract):
    """GET /shared/{share_id}: the conversation as it was when the link was made, read-only."""

    id: str
    title: str
    kind: str
    #: Who shared it (their user name: someone else's text, escaped where shown).
    shared_by: str
    created_at: datetime
    messages: list[SharedMessage]


# -- history search, pins and folders ---------------------------------------------------------

#: Longest search accepted, in characters.
MAX_QUERY_CHARS = 200
#: Longest folder name, in characters.
MAX_FOLDER_CHARS = 60


class SessionHit(_Contract):
    """One conversation that matches a search."""

    id: str
    title: str
    kind: str
    updated_at: datetime
    #: Some text of the first message that matched (None when only the title did).
    snippet: str | None = None


class SearchResults(_Contract):
    """GET /sessions/search?q=: the user's matching conversations, most recently updated first."""

    hits: list[SessionHit]
    #: False where the store searched only part of the history (DynamoDB: the newest conversations).
    complete: bool = True
    #: What was searched, when not everything was.
    note: str | None = None


class MarkRequest(_Contract):
    """PUT /sessions/{session_id}/mark: pin a conversation, or file it in a folder (or both)."""

    pinned: bool = False
    #: A folder name; None or empty takes the conversation out of its folder.
    folder: str | None = Field(None, max_length=MAX_FOLDER_CHARS)


class SessionMark(_Contract):
    session_id: str
    title: str
    kind: str
    updated_at: datetime
    pinned: bool
    folder: str | None = None
