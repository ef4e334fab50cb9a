"""The turn accumulator: fed one lane's events, it knows the answer (like simonw/llm's Response).

The chat service saves from it and the UI draws from it, so both read events the same way:
text, model, sources, finish reason, status, usage and metrics. An answer that does not end by
itself (the user stopped it, it failed, its stream was cut) is closed with `end()`, which keeps
only what was measured: tokens as the model server counted them (None when it did not say,
shown as "—"), never a count of text pieces.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from chatbot.api.timing import ResponseTimer
from chatbot.api.tool_specs import ToolStep, tool_steps
from chatbot.models.events import (
    DoneEvent,
    ErrorEvent,
    Event,
    FinishReason,
    Metrics,
    Source,
    SourcesEvent,
    StartEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
    Usage,
)

#: complete: the model finished; stopped: the user stopped it; error: it failed part-way.
AnswerStatus = Literal["complete", "stopped", "error"]


@dataclass(frozen=True)
class LiveFigures:
    """What can be said about an answer while it grows (the final figures replace them)."""

    ttft_s: float | None
    #: Tokens so far as the model server counted them; None when it does not say.
    tokens: int | None
    tokens_per_s: float | None


class Answer:
    """One model's answer, built from its events as they arrive."""

    def __init__(self, lane: str | None = None, model: str = ""):
        self.lane = lane
        #: The model's name as its start event gave it (an arena's placeholder while hidden).
        self.model = model
        self.sources: list[Source] = []
        #: The tools the answer called, each with its result once it came (issue 24).
        self.tool_steps: list[ToolStep] = []
        self.finish_reason: FinishReason | None = None
        self.usage: Usage | None = None
        self.metrics: Metrics | None = None
        self.error: str | None = None
        self.error_code: str | None = None
        #: Tokens generated so far, from the stream's own count (None: the server does not say).
        self.tokens_so_far: int | None = 0
        self._pieces: list[str] = []
        self._timer = ResponseTimer()

    # -- feeding ------------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        if isinstance(event, StartEvent):
            self.model = event.model
        elif isinstance(event, SourcesEvent):
            self.sources = list(event.sources)
        elif isinstance(event, TokenEvent):
            if event.text:
                self._timer.text_arrived()
                self._pieces.append(event.text)
            self.tokens_so_far = event.completion_tokens
        elif isinstance(event, ToolCallEvent | ToolResultEvent):
            self.tool_steps = tool_steps(self.tool_steps, event)
        elif isinstance(event, DoneEvent):
            self.finish_reason, self.usage, self.metrics = event.finish_reason, event.usage, event.metrics
        elif isinstance(event, ErrorEvent):
            self.end("error", event.message, code=event.code)

    def end(self, reason: Literal["stopped", "error"], message: str | None = None, *, code: str = "") -> None:
        """Close an answer the model did not finish; a no-op once it has ended."""
        if self.finished:
            return
        self.finish_reason = reason
        if reason == "error":
            self.error, self.error_code = message or "The answer failed.", code or "internal_error"
        self.usage = Usage(completion_tokens=self.tokens_so_far)
        self.metrics = self._timer.metrics(self.tokens_so_far)

    # -- reading ------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return "".join(self._pieces)

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    @property
    def status(self) -> AnswerStatus:
        if self.finish_reason == "stopped":
            return "stopped"
        if self.finish_reason == "error":
            return "error"
        return "complete"

    def done_event(self) -> DoneEvent:
        """The answer's last event, once it has ended."""
        if self.finish_reason is None or self.usage is None or self.metrics is None:
            raise RuntimeError("The answer has not ended yet.")
        return DoneEvent(
            lane=self.lane, finish_reason=self.finish_reason, usage=self.usage, metrics=self.metrics
        )

    def live_figures(self) -> LiveFigures:
        first = self._timer.first_text_at
        if first is None:
            return LiveFigures(ttft_s=None, tokens=None, tokens_per_s=None)
        elapsed = time.perf_counter() - first
        tokens = self.tokens_so_far
        rate = (tokens - 1) / elapsed if tokens is not None and tokens > 1 and elapsed > 0.2 else None
        return LiveFigures(first - self._timer.started, tokens, rate)
