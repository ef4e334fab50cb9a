"""One loaded llama.cpp model serving many requests at once, with a bounded queue in front.

Up to `slots` requests decode together (continuous batching, `inference/batching.py`); more
wait in a first-come-first-served queue of `max_queue`, and a request that finds the queue full
is refused at once (`QueueFullError`) rather than waiting without bound. Each job streams
`GeneratedToken`s and then a `Finished` to an asyncio queue; cancelling a job (the client went
away) ends its sequence before the next step.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from pathlib import Path

from inference.batching import BatchLoop
from inference.jobs import (
    EngineStats,
    Finished,
    GeneratedToken,
    Job,
    QueueFullError,
    SamplingSettings,
)
from inference.llama_native import NativeModel

__all__ = [
    "EngineStats",
    "Finished",
    "GeneratedToken",
    "Job",
    "ModelEngine",
    "QueueFullError",
    "SamplingSettings",
]

log = logging.getLogger(__name__)

_STOP = object()


class ModelEngine:
    def __init__(
        self,
        model_path: Path,
        *,
        context_window: int,
        n_threads: int,
        max_queue: int,
        slots: int | None = None,
        models_sharing_memory: int = 1,
    ):
        """`slots=None`: as many as the machine's memory pays for (`inference/slots.py`)."""
        self.context_window = context_window
        self.max_queue = max_queue
        self._model = NativeModel(
            model_path,
            context_window=context_window,
            slots=slots,
            n_threads=n_threads,
            models_sharing_memory=models_sharing_memory,
        )
        self.slots = slots = self._model.slots
        self.stats = EngineStats(slots=slots)
        log.info(
            "%s: %d slots, KV cache %.0f MiB (%.1f MiB a slot)",
            model_path.stem,
            slots,
            slots * self._model.kv_bytes_per_slot / 2**20,
            self._model.kv_bytes_per_slot / 2**20,
        )
        self._incoming: queue.Queue[Job | object] = queue.Queue()
        # Running jobs plus waiting ones: a job holds its place until it ends.
        self._capacity = threading.BoundedSemaphore(slots + max_queue)
        self._loop = BatchLoop(self._model, self.stats, job_ended=self._capacity.release)
        self._warm = threading.Event()
        self._worker = threading.Thread(target=self._work, name=f"engine-{model_path.stem}", daemon=True)
        self._worker.start()

    def warm_up(self) -> None:
        """Wait until the worker has decoded once, so the first user does not pay for
        llama.cpp's first-call set-up (buffer allocation, weights paged in: about half a second)."""
        self._warm.wait()

    def tokenize(self, text: str) -> list[int]:
        return self._model.tokenize(text)

    def submit(self, prompt_tokens: list[int], settings: SamplingSettings) -> Job:
        if not self._capacity.acquire(blocking=False):
            self.stats.add(rejected_queue_full=1)
            raise QueueFullError(
                f"This model is busy: {self.max_queue} requests are already waiting. Try again shortly."
            )
        job = Job(prompt_tokens, settings, asyncio.get_running_loop())
        self.stats.add(requests=1, queued=1)
        self._incoming.put(job)
        return job

    def close(self) -> None:
        self._incoming.put(_STOP)
        self._worker.join(timeout=10)
        self._model.close()

    def _work(self) -> None:
        self._model.warm_up()
        self._warm.set()
        while True:
            # Block only when there is nothing to decode; otherwise take whatever has arrived.
            try:
                while True:
                    item = self._incoming.get(block=not self._loop.busy)
                    if not isinstance(item, Job):  # _STOP: nothing else is put but jobs
                        self._loop.end_all("The model server is shutting down.")
                        return
                    self._loop.add(item)
            except queue.Empty:
                pass
            try:
                self._loop.step()
            except Exception:  # a failing step must not take the worker down
                log.exception("a batching step failed")
                self._loop.end_all("The model failed while generating; try again.")
