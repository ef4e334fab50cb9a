"""What the chat API answers about a user's sessions beyond the records themselves (records.py):
a conversation as its owner may see it, a vote's outcome and an import's counts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from chatbot.api.records import Message, Session, Vote
from chatbot.models.events import LaneView


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conversation(_Answer):
    """A session with its messages, as a user may see it (arena models hidden until the vote)."""

    session: Session
    messages: list[Message]
    #: The session's lanes as the panes show them.
    lanes: list[LaneView] = []
    #: Arena sessions: whether the models have been revealed by a vote.
    revealed: bool = True
    #: Compare and arena sessions: the rounds already voted on (a round takes one vote).
    voted_rounds: list[int] = []


class VoteResult(_Answer):
    vote: Vote
    #: The session's lanes, revealed (an arena hides its models until its vote).
    lanes: list[LaneView]
    #: The lanes' models by lane id, read from those lanes.
    models: dict[str, str]


class ImportResult(_Answer):
    imported: int
    #: Conversations already in the history (imported before, or never gone).
    skipped: int
