"""Continuous batching: every running request of a model decodes in one llama_decode per step.

The loop runs on the model's worker thread. Each step it
1. ends sequences whose client went away (they leave before the batch is built);
2. gives free slots to waiting jobs, each to the slot whose cached tokens share the longest
   prefix with its prompt, so a conversation's next turn skips the prompt it already read;
3. builds one batch: the last sampled token of every decoding sequence, then prompt chunks of
   newcomers up to the batch size (a long prompt takes several steps and stalls nobody);
4. samples a token for every sequence that has logits in the batch, with its own sampler.
A sequence that finishes leaves at once; its slot keeps the KV cache for the next prompt.
"""

from __future__ import annotations

import codecs
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from inference.jobs import EngineStats, Finished, GeneratedToken, Job
from inference.llama_native import BATCH_TOKENS, BatchEntry, DecodeError, NativeModel, SequenceSampler

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Sequence:
    job: Job
    seed: int
    sampler: SequenceSampler
    #: Prompt tokens not yet in the KV cache.
    pending: list[int]
    #: Admission order: earlier prompts are prefilled first.
    admitted: int = 0
    #: The token sampled last, not yet in the KV cache (None while the prompt is prefilled).
    next_token: int | None = None
    text: str = ""
    count: int = 0
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def finished(self, reason: str, error: str | None = None) -> Finished:
        return Finished(reason, self.text, self.count, len(self.job.prompt_tokens), self.seed, error)  # type: ignore[arg-type]


@dataclass(eq=False)
class Slot:
    seq_id: int
    #: The tokens whose KV cells this slot's sequence holds, position by position.
    cached: list[int] = field(default_factory=list)
    sequence: Sequence | None = None
    last_used: int = 0


def common_prefix(a: list[int], b: list[int]) -> int:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


class BatchLoop:
    def __init__(self, model: NativeModel, stats: EngineStats, job_ended: Callable[[], None]):
        self._model = model
        self._stats = stats
        #: Called once for every job that ends (frees its place in the engine's capacity).
        self._job_ended = job_ended
        self._admitted = 0
        self._slots = [Slot(seq_id) for seq_id in range(model.slots)]
        self._waiting: deque[Job] = deque()
        self._step = 0

    @property
    def busy(self) -> bool:
        return bool(self._waiting) or any(slot.sequence for slot in self._slots)

    def add(self, job: Job) -> None:
        self._waiting.append(job)

    def step(self) -> None:
        self._step += 1
        self._end_cancelled()
        self._admit()
        running = [slot for slot in self._slots if slot.sequence is not None]
        if not running:
            return
        entries, sampled = self._build_batch(running)
        try:
            self._model.decode(entries)
        except DecodeError as exc:
            log.exception("decoding a batch failed")
            self.end_all(f"The model failed while generating ({exc}); try again.")
            return
        if sampled:
            self._stats.record_step(len(sampled))
        for slot, batch_index in sampled:
            self._take_token(slot, batch_index)

    def end_all(self, reason: str) -> None:
        """Every job ends now (the server is shutting down, or a step failed half-way: then
        no slot's cache can be trusted)."""
        for slot in self._slots:
            if slot.sequence is not None:
                self._end(slot, slot.sequence.finished("error", reason))
            slot.cached = []
            self._model.keep_prefix(slot.seq_id, 0)
        while self._waiting:
            job = self._waiting.popleft()
            self._stats.add(queued=-1, failed=1)
            self._job_ended()
            job._emit(Finished("error", "", 0, len(job.prompt_tokens), 0, reason))

    def _end_cancelled(self) -> None:
        for slot in self._slots:
            if slot.sequence is not None and slot.sequence.job.cancelled:
                self._end(slot, slot.sequence.finished("cancelled"))
        for job in [job for job in self._waiting if job.cancelled]:
            self._waiting.remove(job)
            self._stats.add(queued=-1, cancelled=1)
            self._job_ended()
            job._emit(Finished("cancelled", "", 0, len(job.prompt_tokens), 0))

    def _admit(self) -> None:
        while self._waiting:
            free = [slot for slot in self._slots if slot.sequence is None]
            if not free:
                return
            job = self._waiting.popleft()
            try:  # a tool call's grammar (inference/tools.py); one llama.cpp refuses fails only its job
                grammar = self._model.grammar_sampler(job.settings.grammar) if job.settings.grammar else None
            except ValueError as exc:
                self._stats.add(queued=-1, failed=1)
                self._job_ended()
                job._emit(Finished("error", "", 0, len(job.prompt_tokens), 0, str(exc)))
                continue
            slot = self._pick_slot(free, job.prompt_tokens)
            # At least the prompt's last token is decoded again: its logits give the first token.
            reuse = min(common_prefix(slot.cached, job.prompt_tokens), len(job.prompt_tokens) - 1)
            reuse = self._model.keep_prefix(slot.seq_id, reuse)
            slot.cached = slot.cached[:reuse]
            settings = job.settings
            seed = settings.seed if settings.seed is not None else random.randrange(2**31)
            sampler = SequenceSampler(
                self._model.vocab_size,
                seed=seed,
                temperature=settings.temperature,
                top_k=settings.top_k,
                top_p=settings.top_p,
                repetition_penalty=settings.repetition_penalty,
                grammar=grammar,
            )
            sampler.remember(job.prompt_tokens)
            self._admitted += 1
            slot.sequence = Sequence(job, seed, sampler, job.prompt_tokens[reuse:], self._admitted)
            self._stats.add(queued=-1, running=1, prompt_tokens_cached=reuse)

    def _pick_slot(self, free: list[Slot], prompt: list[int]) -> Slot:
        """The slot whose cache shares the most with this prompt (a conversation's previous
        turn), else the one used least recently, so other conversations keep their caches.
        A prefix under a tenth of the prompt (a chat template's opening) does not count, as in
        llama-server's slot selection."""
        shared = {slot.seq_id: common_prefix(slot.cached, prompt) for slot in free}
        return max(
            free,
            key=lambda slot: (
                shared[slot.seq_id] if shared[slot.seq_id] * 10 > len(prompt) else 0,
                -slot.last_used,
            ),
        )

    def _build_batch(self, running: list[Slot]) -> tuple[list[BatchEntry], list[tuple[Slot, int]]]:
        entries: list[BatchEntry] = []
        sampled: list[tuple[Slot, int]] = []  # which slot samples from which batch position
        for slot in running:
            sequence = slot.sequence
            if sequence is not None and sequence.next_token is not None:
                entries.append(BatchEntry(sequence.next_token, len(slot.cached), slot.seq_id, True))
                slot.cached.append(sequence.next_token)
                sampled.append((slot, len(entries) - 1))
        # Prompts fill what is left, the earliest admitted first.
        for slot in sorted(running, key=lambda slot: slot.sequence.admitted if slot.sequence else 0):
            sequence = slot.sequence
            room = BATCH_TOKENS - len(entries)
            if sequence is None or not sequence.pending or room <= 0:
                continue
            chunk, sequence.pending = sequence.pending[:room], sequence.pending[room:]
            for offset, token in enumerate(chunk):
                last = not sequence.pending and offset == len(chunk) - 1
                entries.append(BatchEntry(token, len(slot.cached), slot.seq_id, last))
                slot.cached.append(token)
            self._stats.add(prompt_tokens_processed=len(chunk))
            if not sequence.pending:
                sampled.append((slot, len(entries) - 1))
        return entries, sampled

    def _take_token(self, slot: Slot, batch_index: int) -> None:
        sequence = slot.sequence
        if sequence is None:
            return
        model, settings = self._model, sequence.job.settings
        token = sequence.sampler.sample(model.context, batch_index)
        sequence.count += 1
        self._stats.add(tokens_generated=1)
        reason = None
        if model.is_end_of_generation(token):
            piece = model.piece(token, special=True).decode("utf-8", errors="replace")
            special, reason = True, "eos_token"
        else:
            piece = sequence.decoder.decode(model.piece(token, special=False))
            sequence.text += piece
            special = False
            if _ends_with_stop(sequence.text, len(piece), settings.stop):
                reason = "stop_sequence"
            elif sequence.count >= settings.max_new_tokens or len(slot.cached) + 1 >= model.context_window:
                reason = "length"
        finished = sequence.finished(reason) if reason else None
        last = GeneratedToken(token, piece, special, finished)
        if finished is None:
            sequence.job._emit(last)
            sequence.next_token = token
        else:
            self._end(slot, finished, last)

    def _end(self, slot: Slot, finished: Finished, last: GeneratedToken | None = None) -> None:
        """The sequence leaves the batch now; the slot keeps its cache for a later prompt.
        The job hears last, so a client that sees its answer end also sees the counters move."""
        sequence = slot.sequence
        assert sequence is not None
        sequence.sampler.close()
        slot.sequence = None
        slot.last_used = self._step
        outcome = {"cancelled": "cancelled", "error": "failed"}.get(finished.reason, "completed")
        self._stats.add(running=-1, **{outcome: 1})
        self._job_ended()
        sequence.job._emit(last or finished)


def _ends_with_stop(text: str, new_chars: int, stop: tuple[str, ...]) -> bool:
    """Did the newest piece complete a stop sequence? Only the tail can hold a new match."""
    return any(word in text[-(new_chars + len(word)) :] for word in stop)
