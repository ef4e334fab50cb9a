"""One loaded llama.cpp model, a fair queue in front of it, and a decode loop that can be stopped.

Requests to a model run one at a time on the model's own worker thread, first come first
served; a request that finds the queue full is refused at once (`QueueFullError`) rather
than waiting without bound. Each job streams `GeneratedToken`s and then a `Finished` to an
asyncio queue; cancelling a job (the client went away) stops decoding at the next token.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import queue
import random
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import llama_cpp

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class Finished:
    reason: Literal["length", "eos_token", "stop_sequence", "cancelled", "error"]
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

    requests: int = 0
    completed: int = 0
    cancelled: int = 0
    failed: int = 0
    rejected_queue_full: int = 0
    tokens_generated: int = 0
    queued: int = 0
    running: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        """Counters change on the event loop and on worker threads alike."""
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {name: value for name, value in vars(self).items() if not name.startswith("_")}


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


class ModelEngine:
    def __init__(self, model_path: Path, *, context_window: int, n_threads: int, max_queue: int):
        self.context_window = context_window
        self.max_queue = max_queue
        self.stats = EngineStats()
        self._llm = llama_cpp.Llama(
            model_path=str(model_path), n_ctx=context_window, n_threads=n_threads, verbose=False
        )
        self._vocab = self._llm._model.vocab  # llama-cpp-python has no public end-of-generation check
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._slots = threading.BoundedSemaphore(max_queue + 1)  # the running job plus the queue
        self._worker = threading.Thread(target=self._work, name=f"engine-{model_path.stem}", daemon=True)
        self._worker.start()

    def warm_up(self) -> None:
        """Decode one token, so the first user does not pay for llama.cpp's first-call set-up
        (buffer allocation, weights paged in: about half a second here)."""
        tokens = self._llm.generate(self.tokenize("Hello"), temp=0.0)
        next(tokens)
        tokens.close()

    def tokenize(self, text: str) -> list[int]:
        # special=True: chat templates write control tokens such as <|im_start|> as text.
        return self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def submit(self, prompt_tokens: list[int], settings: SamplingSettings) -> Job:
        if not self._slots.acquire(blocking=False):
            self.stats.add(rejected_queue_full=1)
            raise QueueFullError(
                f"This model is busy: {self.max_queue} requests are already waiting. Try again shortly."
            )
        job = Job(prompt_tokens, settings, asyncio.get_running_loop())
        self.stats.add(requests=1, queued=1)
        self._jobs.put(job)
        return job

    def close(self) -> None:
        self._jobs.put(None)
        self._worker.join(timeout=10)
        self._llm.close()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            self.stats.add(queued=-1, running=1)
            try:
                finished = self._generate(job)
            except Exception as exc:  # a failing request must not take the worker down
                log.exception("generation failed")
                finished = Finished("error", "", 0, len(job.prompt_tokens), 0, error=str(exc))
                job._emit(finished)
            finally:
                self._slots.release()
            outcome = {"cancelled": "cancelled", "error": "failed"}.get(finished.reason, "completed")
            self.stats.add(running=-1, **{outcome: 1})

    def _generate(self, job: Job) -> Finished:
        settings, llm = job.settings, self._llm
        seed = settings.seed if settings.seed is not None else random.randrange(2**31)
        llm.set_seed(seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text, count = "", 0
        tokens = llm.generate(
            job.prompt_tokens,
            temp=settings.temperature or 0.0,  # llama.cpp decodes greedily at temp <= 0
            top_p=settings.top_p,
            top_k=settings.top_k,
            min_p=0.0,
            repeat_penalty=settings.repetition_penalty,
            reset=True,  # still reuses the longest cached prompt prefix
        )
        try:
            for token in tokens:
                if job.cancelled:
                    break
                count += 1
                self.stats.add(tokens_generated=1)
                reason = None
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    piece = llm.detokenize([token], special=True).decode("utf-8", errors="replace")
                    special, reason = True, "eos_token"
                else:
                    piece = decoder.decode(llm.detokenize([token]))
                    text += piece
                    special = False
                    if _ends_with_stop(text, len(piece), settings.stop):
                        reason = "stop_sequence"
                    elif count >= settings.max_new_tokens:
                        reason = "length"
                finished = Finished(reason, text, count, len(job.prompt_tokens), seed) if reason else None
                job._emit(GeneratedToken(token, piece, special, finished))
                if finished is not None:
                    return finished
        finally:
            tokens.close()
        finished = Finished("cancelled", text, count, len(job.prompt_tokens), seed)
        job._emit(finished)
        return finished


def _ends_with_stop(text: str, new_chars: int, stop: tuple[str, ...]) -> bool:
    """Did the newest piece complete a stop sequence? Only the tail can hold a new match."""
    return any(word in text[-(new_chars + len(word)) :] for word in stop)
