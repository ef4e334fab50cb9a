"""What the history stores keep, and the chat API sends as they are: sessions, messages and votes
(pydantic, the stores' boundary and the wire's)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatbot.api.attachments import AttachmentRef
from chatbot.api.requests import VoteChoice
from chatbot.api.tool_specs import ToolStep
from chatbot.models.events import Metrics, Source, Usage

#: complete: the model finished; stopped: the user stopped it; error: it failed part-way.
MessageStatus = Literal["complete", "stopped", "error"]
SessionKind = Literal["chat", "compare", "arena"]

#: Longest title kept, from the first prompt (as the original chatbot did).
TITLE_CHARS = 100


#: Imported conversations take an id derived from the user and the original id (a version-5
#: UUID), so importing the same file twice finds the first copy.
_IMPORT_NAMESPACE = uuid.UUID("6f1c1d5e-3a52-4d1e-9d8e-7f4b8f1f2a10")


def new_id() -> str:
    """A session run here: a random (version-4) UUID."""
    return uuid.uuid4().hex


def imported_session_id(user_id: str, original_id: str) -> str:
    return uuid.uuid5(_IMPORT_NAMESPACE, f"{user_id}:{original_id}").hex


def is_imported_session(session_id: str) -> bool:
    """Whether a session came from an import (its rounds were not run here, so their votes are
    not blind). Read from the id, which the server derives and no import can choose; a prefix
    (`battle:` on imported battles) is looked through."""
    try:
        return uuid.UUID(hex=session_id.rsplit(":", 1)[-1]).version == 5
    except ValueError:
        return False


def utc_now() -> datetime:
    return datetime.now(UTC)


def title_from(prompt: str) -> str:
    title = " ".join(prompt.split())
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lane(_Record):
    """One model's column in a compare or arena session."""

    id: str
    model: str


class Session(_Record):
    id: str = Field(default_factory=new_id)
    user_id: str
    title: str = "New chat"
    kind: SessionKind = "chat"
    #: Compare and arena sessions: the models side by side. A chat session has one lane.
    lanes: list[Lane] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    message_count: int = 0
    #: The preset the conversation was started with (issue 21); None: none, or a session an
    #: earlier release saved.
    preset: str | None = None


class Message(_Record):
    #: Position in the session, from 1, given by the store: order of arrival.
    seq: int = 0
    role: Literal["user", "assistant"]
    content: str
    #: The lane this message belongs to; None for a prompt sent to every lane.
    lane: str | None = None
    status: MessageStatus = "complete"
    #: Assistant messages: the model, settings and figures of the answer.
    model: str | None = None
    parameters: dict[str, Any] | None = None
    usage: Usage | None = None
    metrics: Metrics | None = None
    error: str | None = None
    sources: list[Source] = Field(default_factory=list)
    #: Assistant messages: the tools the answer called and what they returned (issue 24).
    tool_steps: list[ToolStep] = Field(default_factory=list)
    #: Assistant messages: the seq of the prompt they answer.
    reply_to: int | None = None
    #: Chat questions: the seq of the message this one follows in its branch (an edited question
    #: has the original's parent: a new branch beside it); 0: a first question. None: the
    #: message before it, as for every message stored before branches (issue 23; read by
    #: chatbot/api/branches.py).
    parent: int | None = None
    #: Chat questions: the files attached to them, by reference (issue 23; the bytes and their
    #: text live in the blob store). Empty in messages stored before attachments.
    attachments: list[AttachmentRef] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utc_now)


class SessionPage(_Record):
    sessions: list[Session]
    #: Pass back to get the next page; None on the last page.
    cursor: str | None = None


class AnswerFigures(_Record):
    """What the leaderboard keeps of one lane's answer: its length, tokens and speed."""

    #: Length of the answer's text, in characters (the style control's measure).
    chars: int
    completion_tokens: int | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    #: The answer's markdown (chatbot/chat/style.py): headers, list items, bold spans; 0 in
    #: votes of releases that did not count them.
    headers: int = 0
    list_items: int = 0
    bold: int = 0


class Vote(_Record):
    """A user's verdict on one round of a compare or arena session."""

    session_id: str
    #: The seq of the prompt the lanes answered.
    round: int
    user_id: str
    choice: VoteChoice
    #: With choice "best": the lane judged best.
    best_lane: str | None = None
    #: The lanes' models, in lane order.
    models: list[str]
    #: The lanes' ids, in the same order (votes stored before lanes were recorded: a, b, ...).
    lanes: list[str] = Field(default_factory=list)
    #: Arena votes (models hidden while voting) are the only ones the leaderboard counts.
    anonymous: bool
    #: The lanes' answers as voted on, in lane order.
    answers: list[AnswerFigures] = Field(default_factory=list)
    #: Why this vote does not count, when that is known as it is cast (an identity leak).
    void_reason: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    #: The prompt's category (chatbot/chat/style.py); "unclassified" in older votes.
    category: str = "unclassified"

    @model_validator(mode="after")
    def _lanes_of_older_votes(self) -> Vote:
        if not self.lanes:  # stored before votes named their lanes: they were a, b, c, d in order
            object.__setattr__(self, "lanes", ["a", "b", "c", "d"][: len(self.models)])
        return self

    @property
    def best_model(self) -> str | None:
        """With choice "best": the model of the lane judged best."""
        if self.choice != "best" or self.best_lane not in self.lanes:
            return None
        return self.models[self.lanes.index(self.best_lane)]
