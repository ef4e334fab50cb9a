"""What a request to the engine is and what it streams back, and the engine's counters.

A `Job` streams `GeneratedToken`s and then ends: its last token carries a `Finished`, or (when
it was cancelled or failed before a last token) a bare `Finished` follows. Tokens are produced on
the model's worker thread and handed to the job's asyncio loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal


class QueueFullError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class SamplingSettings:
    max_new_tokens: int
    #: None means greedy decoding.
    temperature: float | None
    top_p: float = 1.0
    #: 0 = off.
    top_k: int = 0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    #: GBNF the answer must match (a tool call's JSON schema, inference/tools.py); None: free.
    grammar: str | None = None


#: Why a generation ended.
FinishReason = Literal["length", "eos_token", "stop_sequence", "cancelled", "error"]


@dataclass(frozen=True, slots=True)
class Finished:
    reason: FinishReason
    generated_text: str
    generated_tokens: int
    input_length: int
    seed: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class GeneratedToken:
    id: int
    text: str
    special: bool
    #: Set on the last token: why generation ended there (TGI puts this on the last event).
    finished: Finished | None = None


@dataclass
class EngineStats:
    """Counters a test (or an operator) can read to see what the server really did."""

    #: Sequences of this model that decode together (set once).
    slots: int = 0
    requests: int = 0
    completed: int = 0
    cancelled: int = 0
    failed: int = 0
    rejected_queue_full: int = 0
    tokens_generated: int = 0
    queued: int = 0
    running: int = 0
    #: llama_decode calls that produced at least one token, and the most sequences in one.
    decode_steps: int = 0
    max_batch_size: int = 0
    #: Prompt tokens run through the model, and prompt tokens found already in a slot's cache.
    prompt_tokens_processed: int = 0
    prompt_tokens_cached: int = 0
    _sampled_in_steps: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        """Counters change on the event loop and on worker threads alike."""
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def record_step(self, sequences: int) -> None:
        """One llama_decode gave `sequences` sequences a token each."""
        with self._lock:
            self.decode_steps += 1
            self._sampled_in_steps += sequences
            self.max_batch_size = max(self.max_batch_size, sequences)

    def snapshot(self) -> dict[str, int | float]:
        with self._lock:
            counters: dict[str, int | float] = {
                name: value for name, value in vars(self).items() if not name.startswith("_")
            }
            steps = self.decode_steps
            counters["mean_batch_size"] = round(self._sampled_in_steps / steps, 3) if steps else 0.0
            return counters


@dataclass(eq=False)
class Job:
    prompt_tokens: list[int]
    settings: SamplingSettings
    _loop: asyncio.AbstractEventLoop
    _events: asyncio.Queue = field(default_factory=asyncio.Queue)
    _cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def _emit(self, item: GeneratedToken | Finished) -> None:
        self._loop.call_soon_threadsafe(self._events.put_nowait, item)

    async def events(self) -> AsyncIterator[GeneratedToken | Finished]:
        """Tokens as they are decoded; the last one carries `finished`. A job that ends
        without a last token (cancelled, failed) ends with a bare Finished instead.
        Closing this iterator early cancels the job."""
        try:
            while True:
                item = await self._events.get()
                yield item
                if isinstance(item, Finished) or item.finished is not None:
                    return
        finally:
            self.cancel()
