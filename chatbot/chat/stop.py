"""Stopping a generation, from this process or from any other.

A stop is asked through the store (`request_stop`, as the original chatbot kept a
`shouldStop` flag in the session item), so a request that lands on another connection,
Lambda instance or process still reaches the generation; generations in this process are
also told at once through an in-memory signal, with no wait for the next poll.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from chatbot.api.records import Session
from chatbot.chat.store import HistoryStore
from chatbot.errors import InvalidRequestError


def check_own_lane(session: Session, lane: str) -> None:
    """A stop names one of the session's own lanes (a chat has none): the stop is kept in the
    session's row, which must not grow with whatever a caller sends."""
    lanes = [own.id for own in session.lanes]
    if lane not in lanes:
        shown = lane[:10] + ("…" if len(lane) > 10 else "")
        raise InvalidRequestError(
            f"This conversation has no pane {shown!r}; "
            + (
                f"stop one of {', '.join(lanes)}, or omit the lane to stop all."
                if lanes
                else "omit the lane."
            )
        )


class StopWatch:
    """Asked before each token: should this generation stop?"""

    def __init__(
        self,
        store: HistoryStore,
        user_id: str,
        session_id: str,
        lane: str | None,
        started_at: datetime,
        signals: tuple[threading.Event, ...],
        poll_s: float,
    ):
        """`signals`: in-process reasons to stop (a local stop request, the client going away)."""
        self._store, self._user_id, self._session_id, self._lane = store, user_id, session_id, lane
        self._started_at, self._signals, self._poll_s = started_at, signals, poll_s
        self._next_poll = time.monotonic() + poll_s
        self._stopped = False

    def should_stop(self) -> bool:
        if self._stopped or any(signal.is_set() for signal in self._signals):
            return True
        now = time.monotonic()
        if now >= self._next_poll:
            self._next_poll = now + self._poll_s  # reading the store per token would cost a round trip each
            self._stopped = self._store.stop_requested(
                self._user_id, self._session_id, self._lane, self._started_at
            )
        return self._stopped


class LocalGenerations:
    """Signals of the generations running in this process, by session and lane."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signals: dict[str, dict[str | None, set[threading.Event]]] = defaultdict(
            lambda: defaultdict(set)
        )

    @contextmanager
    def running(self, session_id: str, lane: str | None, signal: threading.Event) -> Iterator[None]:
        with self._lock:
            self._signals[session_id][lane].add(signal)
        try:
            yield
        finally:
            with self._lock:
                self._signals[session_id][lane].discard(signal)
                if not any(self._signals[session_id].values()):
                    del self._signals[session_id]

    def stop(self, session_id: str, lane: str | None) -> None:
        with self._lock:
            lanes = self._signals.get(session_id, {})
            targets = [s for key, signals in lanes.items() if lane in (None, key) for s in signals]
        for signal in targets:
            signal.set()
