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

from chatbot.api.answer import Answer, LiveFigures
from chatbot.models.events import ErrorEvent, Event, LaneView, SessionEvent
from streamlit_app.api import ApiError

__all__ = ["Answer", "LiveFigures", "LiveTurn"]


class LiveTurn:
    """The state of one turn, shared by the worker (writes) and the page script (reads).

    The lanes are what the turn's session event says they are; until it arrives there are none."""

    def __init__(self, prompt: str):
        self.prompt = prompt
        self.started_at = time.monotonic()
        self.session_id: str | None = None
        self.round: int | None = None
        self.lanes: list[LaneView] = []
        #: A failure of the whole turn (the request was refused, the API cannot be reached).
        self.failure: str | None = None
        #: The API's error code for `failure` (e.g. model_warming_up), where it gave one.
        self.failure_code: str | None = None
        #: Something the user should know that did not end the turn (a stop that failed).
        self.notice: str | None = None
        self._answers: dict[str | None, Answer] = {}
        self._lock = threading.Lock()
        self._started = threading.Event()
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
            self.failure_code = exc.code
            self._fail(str(exc))
        except Exception as exc:  # the page must learn of any failure, or it would wait forever
            self._fail(f"The answer failed: {exc}")
        finally:
            with self._lock:
                for answer in self._answers.values():
                    answer.end("error", "The answer ended without finishing. Try again.")
            self._started.set()
            self._finished.set()

    def apply(self, event: Event) -> None:
        stops: list[str | None] = []
        with self._lock:
            if isinstance(event, SessionEvent):
                self.session_id, self.round, self.lanes = event.session_id, event.round, list(event.lanes)
                self._answers = {lane.id: Answer(lane.id, lane.model or lane.label) for lane in event.lanes}
                stops, self._stop_wanted = list(self._stop_wanted), set()
            elif isinstance(event, ErrorEvent) and event.lane is None and len(self._answers) > 1:
                for lane_answer in self._answers.values():  # an error of the whole compare turn
                    lane_answer.end("error", event.message, code=event.code)
            elif (answer := self._answers.get(event.lane) or self._only_answer()) is not None:
                answer.feed(event)
        if isinstance(event, SessionEvent):
            self._started.set()
        for lane in stops:  # a stop asked for before the session was known
            self._send_stop(lane)

    def _only_answer(self) -> Answer | None:
        return next(iter(self._answers.values())) if len(self._answers) == 1 else None

    def _fail(self, message: str) -> None:
        with self._lock:
            if self.session_id is None:
                self.failure = message
            for answer in self._answers.values():
                answer.end("error", message)

    # -- the page's side --------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout_s: float) -> bool:
        return self._finished.wait(timeout_s)

    def wait_started(self, timeout_s: float) -> bool:
        """True once the session event has named the lanes (or the turn is over)."""
        return self._started.wait(timeout_s)

    def snapshot(self) -> dict[str | None, Answer]:
        with self._lock:
            return {lane: copy.deepcopy(answer) for lane, answer in self._answers.items()}

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
