"""A prompt being answered: one lane (chat) or 2 to 4 lanes (compare), read from the chat API's
NDJSON stream by a worker thread.

Why a thread: every click in Streamlit reruns the page script and interrupts whatever it was
doing. If the script itself read the stream, a click on one pane's Stop would cut the HTTP
stream and so stop every pane. The worker keeps reading whatever the script does; the page
only draws the latest snapshot, and a stop is a POST /sessions/{id}/stop that the model honours
within a few tokens (the answer then ends with finish_reason "stopped" and is saved as such).
The worker never calls Streamlit.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from chatbot.models.events import (
    DoneEvent,
    ErrorEvent,
    Event,
    Metrics,
    SessionEvent,
    Source,
    SourcesEvent,
    StartEvent,
    TokenEvent,
    Usage,
)
from streamlit_app.api import ApiError


@dataclass
class LaneAnswer:
    """One model's answer as it grows."""

    lane: str | None
    #: The model's name; an arena hides it ("Model A") until the vote.
    model: str = ""
    text: str = ""
    #: Token events received so far (a batched endpoint may send several tokens in one).
    chunks: int = 0
    first_text_at: float | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    metrics: Metrics | None = None
    sources: list[Source] = field(default_factory=list)
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None or self.error is not None


@dataclass(frozen=True)
class LiveFigures:
    """What a pane shows while its answer grows (the server's figures replace them at the end)."""

    ttft_s: float | None
    tokens: int
    tokens_per_s: float | None


class LiveTurn:
    """The state of one turn, shared by the worker (writes) and the page script (reads)."""

    def __init__(self, prompt: str, lanes: list[str | None], *, models: dict[str | None, str] | None = None):
        self.prompt = prompt
        self.started_at = time.monotonic()
        self.session_id: str | None = None
        self.round: int | None = None
        #: A failure of the whole turn (the request was refused, the API cannot be reached).
        self.failure: str | None = None
        #: Something the user should know that did not end the turn (a stop that failed).
        self.notice: str | None = None
        self._lanes = {lane: LaneAnswer(lane, model=(models or {}).get(lane, "")) for lane in lanes}
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._stop_wanted: set[str | None] = set()
        self._stopper: Callable[[str, str | None], None] | None = None

    # -- the worker's side ----------------------------------------------------------------

    def start(
        self, events: Callable[[], Iterator[Event]], stopper: Callable[[str, str | None], None]
    ) -> None:
        """Read `events()` in a daemon thread; `stopper(session_id, lane)` asks the API to stop."""
        self._stopper = stopper
        threading.Thread(target=self._read, args=(events,), name="chat-ui-stream", daemon=True).start()

    def _read(self, events: Callable[[], Iterator[Event]]) -> None:
        try:
            for event in events():
                self.apply(event)
        except ApiError as exc:
            self._fail(str(exc))
        except Exception as exc:  # the page must learn of any failure, or it would wait forever
            self._fail(f"The answer failed: {exc}")
        finally:
            with self._lock:
                for answer in self._lanes.values():
                    if not answer.finished and self.failure is None:
                        answer.error = "The answer ended without finishing. Try again."
            self._finished.set()

    def apply(self, event: Event) -> None:
        stops: list[str | None] = []
        with self._lock:
            if isinstance(event, SessionEvent):
                self.session_id, self.round = event.session_id, event.round
                stops, self._stop_wanted = list(self._stop_wanted), set()
            elif isinstance(event, ErrorEvent) and event.lane is None and len(self._lanes) > 1:
                for answer in self._lanes.values():  # an error of the whole compare turn
                    if not answer.finished:
                        answer.error = event.message
            else:
                self._apply_to_lane(self._lanes.get(event.lane) or self._only_lane(), event)
        for lane in stops:  # a stop asked for before the session was known
            self._send_stop(lane)

    def _only_lane(self) -> LaneAnswer:
        return next(iter(self._lanes.values()))

    def _apply_to_lane(self, answer: LaneAnswer, event: Event) -> None:
        if isinstance(event, StartEvent):
            answer.model = event.model
        elif isinstance(event, SourcesEvent):
            answer.sources = list(event.sources)
        elif isinstance(event, TokenEvent):
            if answer.first_text_at is None and event.text:
                answer.first_text_at = time.monotonic()
            answer.text += event.text
            answer.chunks += 1
        elif isinstance(event, DoneEvent):
            answer.finish_reason, answer.usage, answer.metrics = (
                event.finish_reason,
                event.usage,
                event.metrics,
            )
        elif isinstance(event, ErrorEvent):
            answer.error = event.message

    def _fail(self, message: str) -> None:
        with self._lock:
            if self.session_id is None:
                self.failure = message
            for answer in self._lanes.values():
                if not answer.finished:
                    answer.error = message

    # -- the page's side --------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout_s: float) -> bool:
        return self._finished.wait(timeout_s)

    def snapshot(self) -> dict[str | None, LaneAnswer]:
        with self._lock:
            return {lane: copy.deepcopy(answer) for lane, answer in self._lanes.items()}

    def figures(self, answer: LaneAnswer, now: float | None = None) -> LiveFigures:
        now = time.monotonic() if now is None else now
        if answer.first_text_at is None:
            return LiveFigures(ttft_s=None, tokens=0, tokens_per_s=None)
        elapsed = now - answer.first_text_at
        rate = answer.chunks / elapsed if elapsed > 0.2 else None
        return LiveFigures(answer.first_text_at - self.started_at, answer.chunks, rate)

    def request_stop(self, lane: str | None = None) -> None:
        """Stop one lane (or all): now if the session is known, else as soon as it is."""
        with self._lock:
            if self.session_id is None:
                self._stop_wanted.add(lane)
                return
        self._send_stop(lane)

    def _send_stop(self, lane: str | None) -> None:
        if self._stopper is None or self.session_id is None:
            return
        try:
            self._stopper(self.session_id, lane)
        except ApiError as exc:
            self.notice = f"Could not stop the answer: {exc}"
