"""Where an answer goes: the only part of the generation pipeline (`pipeline`) that chat,
compare, arena and the `/v1` gateway do not share.

- `SessionAnswer`: a chat's answer, or one lane of a compare or an arena, saved in the session
  as the reply to its round; it can be stopped from anywhere (a stop request in the store) and
  an arena's lane answers under its alias.
- `GatewayAnswer`: a `/v1` completion, saved as a new conversation only when the caller asks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from chatbot.api.answer import Answer
from chatbot.api.records import Message, Session, title_from, utc_now
from chatbot.chat.pipeline import Destination, Generation, Settled, renamed_start
from chatbot.chat.stop import LocalGenerations, StopWatch
from chatbot.chat.store import HistoryStore
from chatbot.models.adapters import Turn
from chatbot.models.events import DoneEvent, Event


def answer_message(
    answer: Answer, generation: Generation, usage: Settled | None = None, *, reply_to: int
) -> Message:
    """The stored message of an answer: what the user saw, with how it ended and its figures."""
    return Message(
        role="assistant",
        content=answer.text,
        lane=generation.lane,
        status=answer.status,
        model=generation.endpoint.spec.name,
        parameters=generation.params.model_dump(),
        usage=usage.billable if usage is not None else answer.usage,
        metrics=answer.metrics,
        error=answer.error,
        sources=answer.sources,
        tool_steps=answer.tool_steps,
        reply_to=reply_to,
    )


class SessionAnswer(Destination):
    """A chat's answer or one lane's, saved in its session as the reply to `round_`."""

    def __init__(
        self,
        store: HistoryStore,
        local: LocalGenerations,
        user_id: str,
        session_id: str,
        round_: int,
        *,
        lane: str | None = None,
        alias: str | None = None,
        stop_poll_s: float,
    ):
        """`alias`: what the lane's model is called while an arena hides it."""
        self._store, self._local = store, local
        self._user_id, self._session_id, self._round, self._lane = user_id, session_id, round_, lane
        self._alias, self._stop_poll_s = alias, stop_poll_s

    @contextmanager
    def watching(self, cancelled: threading.Event) -> Iterator[Callable[[], bool]]:
        """A stop asked in this process arrives at once; one asked elsewhere, through the store."""
        stop_signal = threading.Event()
        watch = StopWatch(
            self._store,
            self._user_id,
            self._session_id,
            self._lane,
            utc_now(),
            (stop_signal, cancelled),
            self._stop_poll_s,
        )
        with self._local.running(self._session_id, self._lane, stop_signal):
            yield watch.should_stop

    def shown(self, event: Event) -> Event:
        return renamed_start(event, self._alias)

    def save(self, answer: Answer, generation: Generation, settled: Settled) -> None:
        # A session keeps the counts as the server gave them: an unknown count is shown as "—".
        self._store.append_message(
            self._user_id, self._session_id, answer_message(answer, generation, reply_to=self._round)
        )

    def done(self, answer: Answer, settled: Settled) -> DoneEvent:
        return answer.done_event()


class GatewayAnswer(Destination):
    """A stateless completion: nothing is kept unless `save`, then the whole exchange
    (`history`, `message` and the answer) becomes a new conversation of the user's."""

    def __init__(
        self, store: HistoryStore, user_id: str, history: Sequence[Turn], message: str, *, save: bool
    ):
        self._store, self._user_id = store, user_id
        self._history, self._message, self._save = list(history), message, save

    @contextmanager
    def watching(self, cancelled: threading.Event) -> Iterator[Callable[[], bool]]:
        yield cancelled.is_set  # no session: only the caller going away stops it

    def save(self, answer: Answer, generation: Generation, settled: Settled) -> None:
        if not self._save:
            return
        store, user_id = self._store, self._user_id
        session = store.create_session(Session(user_id=user_id, title=title_from(self._message)))
        for earlier in self._history:
            store.append_message(user_id, session.id, Message(role=earlier.role, content=earlier.content))
        prompt = store.append_message(user_id, session.id, Message(role="user", content=self._message))
        store.append_message(
            user_id, session.id, answer_message(answer, generation, settled, reply_to=prompt.seq)
        )

    def done(self, answer: Answer, settled: Settled) -> DoneEvent:
        # The caller is billed what it is told: prompt tokens estimated where the server said none.
        return answer.done_event().model_copy(update={"usage": settled.billable})
