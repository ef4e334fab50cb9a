"""The lanes of a session and the arena's policy, in one place: which lane ids exist, what a
pane is called, what an arena hides, and when the vote reveals it.

An arena session hides its models (in the live turn, the history list, the conversation and
its messages) until its round has a vote. Every caller asks here; none decides for itself.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from chatbot.api.lanes import LANE_IDS, MAX_LANES, lane_label
from chatbot.api.records import Lane, Message, Session, Vote
from chatbot.errors import InvalidRequestError
from chatbot.models.events import LaneView


def check_lanes(session: Session, messages: Sequence[Message] = ()) -> None:
    """A session's lanes are the service's own: a chat has none; a compare or arena session has
    2 to 4, with the ids a, b, c, d in order; each message names one of them, or none."""
    count = len(session.lanes)
    if session.kind == "chat":
        expected: tuple[str, ...] = ()
    elif 2 <= count <= MAX_LANES:
        expected = LANE_IDS[:count]
    else:
        raise InvalidRequestError(
            f"Conversation {session.id!r} has {count} panes; a {session.kind} session has 2 to {MAX_LANES}."
        )
    if tuple(lane.id for lane in session.lanes) != expected:
        raise InvalidRequestError(
            f"Conversation {session.id!r} has panes {[lane.id[:10] for lane in session.lanes[:5]]}; "
            f"a {session.kind} session's panes are {list(expected)}."
        )
    strays = {message.lane for message in messages if message.lane is not None} - set(expected)
    if strays:
        raise InvalidRequestError(
            f"Conversation {session.id!r} has messages of panes it does not have "
            f"({sorted(lane[:10] for lane in strays)[:4]}); its panes are {list(expected)}."
        )


def check_continuable(session: Session, served: Sequence[str]) -> None:
    """A compare or arena session continues only with the service's lanes and models it serves;
    one with another model (imported from elsewhere) stays readable as history."""
    check_lanes(session)
    for lane in session.lanes:
        if lane.model not in served:
            raise InvalidRequestError(
                f"Pane {lane.id.upper()} of this conversation used a model this deployment does not "
                "serve, so it is kept as history and cannot be continued. Start a new comparison."
            )


def new_lanes(models: Sequence[str]) -> list[Lane]:
    if not 2 <= len(models) <= MAX_LANES:
        raise InvalidRequestError(f"Compare 2 to {MAX_LANES} models; {len(models)} were given.")
    return [Lane(id=lane_id, model=model) for lane_id, model in zip(LANE_IDS, models, strict=False)]


def arena_lanes(chat_models: Sequence[str], count: int) -> list[Lane]:
    """`count` distinct models drawn at random."""
    if len(chat_models) < count:
        raise InvalidRequestError(
            f"The arena needs {count} chat models; only {len(chat_models)} are available."
        )
    return new_lanes(random.sample(list(chat_models), count))


def hides_models(session: Session, votes: Sequence[Vote]) -> bool:
    """An arena hides its models until its vote; compare and chat sessions never do."""
    return session.kind == "arena" and not votes


def alias(session: Session, lane_id: str | None) -> str | None:
    """What a hidden lane's model is called while it answers (None: shown by its name)."""
    return lane_label(lane_id) if session.kind == "arena" and lane_id else None


def lane_views(session: Session, *, hidden: bool, chat_model: str | None = None) -> list[LaneView]:
    """The session's lanes as a user may see them (a chat has one lane, with no id)."""
    if session.kind == "chat":
        model = chat_model or ""
        return [LaneView(id=None, label=model, model=model or None)]
    return [
        LaneView(id=lane.id, label=lane_label(lane.id), model=None if hidden else lane.model, hidden=hidden)
        for lane in session.lanes
    ]


def session_as_shown(session: Session, *, hidden: bool) -> Session:
    if not hidden:
        return session
    return session.model_copy(
        update={"lanes": [lane.model_copy(update={"model": lane_label(lane.id)}) for lane in session.lanes]}
    )


def messages_as_shown(messages: list[Message], *, hidden: bool) -> list[Message]:
    if not hidden:
        return messages
    return [m.model_copy(update={"model": m.lane and lane_label(m.lane)}) for m in messages]
