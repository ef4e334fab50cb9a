"""The one generation pipeline: every answer (a chat, each lane of a compare or an arena, one
`/v1` call) runs through the same stages, in this order.

    prepare   endpoint, parameters and fitted prompt of each answer; anything wrong raises here,
              before anything is saved or any model called
    admit     once per request, over all its answers: each `Admission` may refuse (raise a
              ChatbotError: 429 for too many streams) and hands back a `Grant`
    generate  the model's events, fed to an `Answer` until done, error, stop or the caller leaves
    settle    the answer's true counts (`Settled`: the backend's tokens, our prompt estimate where
              it said none), handed to every grant, however the answer ended
    save      the answer's `Destination` keeps it, and says what the caller reads last

Chat, compare, arena and the gateway differ only in their `Destination` (where an answer goes:
a session's turn or lane, a `/v1` response that is saved only when asked, see `destinations`)
and in the admissions they pass. None of the stages asks which caller it runs for.

Extension points:
- **Quotas** implement `Admission`: `admit` reserves prompt + max_new_tokens for the request's
  generations, atomically in the store, or raises (429); `Grant.settle` moves each answer's
  reservation to `Settled.billable`; `Grant.end` gives back what no answer used. Stream leases
  (`admission.StreamLeaseAdmission`) and API-key metering (`admission.ApiKeyMetering`) are the
  two admissions today. Pass them per call (`admissions=`) or for every call (`Pipeline(...)`).
  The lanes of a compare settle from their own threads: a grant that keeps state locks it.
- **Tools** replace the generate stage: `Pipeline(generate=...)` takes a `GenerateStage`, a
  function of a `Generation` to its events. A tool loop reads `generation.events`, and on a tool
  call runs the tool, then calls `generation.endpoint.stream(...)` again with the result
  (delimited as untrusted) added, yielding the events of each call in turn, then one Done.
- **Attachments** add text to the `PromptContext` the caller builds (`PromptContext.plus`):
  `prepare` fits its passages into the prompt as the adapter delimits retrieved documents, and
  the sources shown with the answer come from it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from chatbot.api.answer import Answer
from chatbot.models.adapters import FittedPrompt, Turn
from chatbot.models.endpoints import Endpoint
from chatbot.models.events import (
    DoneEvent,
    ErrorEvent,
    Event,
    EventStream,
    Source,
    SourcesEvent,
    StartEvent,
    Usage,
)
from chatbot.models.spec import GenerationParams, StreamingMode

logger = logging.getLogger(__name__)

# -- what the stages pass each other ------------------------------------------------------


@dataclass(frozen=True)
class PromptContext:
    """What a prompt holds besides the conversation: passages (retrieved documents, attachments),
    the sources shown for them, and a system text (None: the model's own)."""

    passages: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    system: str | None = None

    def plus(self, passages: Sequence[str], sources: Sequence[Source] = ()) -> PromptContext:
        """This context with more passages after its own (the adapter drops the last ones first)."""
        return PromptContext((*self.passages, *passages), (*self.sources, *sources), self.system)


@dataclass
class Generation:
    """One answer ready to generate: everything that could refuse it has run."""

    lane: str | None
    endpoint: Endpoint
    params: GenerationParams
    prompt: FittedPrompt
    #: The model's first call, not started yet (parameters were checked when it was made).
    events: EventStream
    #: The sources of the passages the fitted prompt kept.
    sources: list[Source] = field(default_factory=list)
    #: The streaming mode the call was made with (None: the model's own).
    mode: StreamingMode | None = None

    def clip_max_new_tokens(self, max_new_tokens: int) -> None:
        """Generate at most this many tokens (an admission granted no more, e.g. a quota): the
        first call, not started yet, is made again with the smaller value."""
        self.params = self.params.model_copy(update={"max_new_tokens": max(1, max_new_tokens)})
        close = getattr(self.events, "close", None)
        if close is not None:
            close()
        self.events = self.endpoint.stream(self.prompt.prompt, self.params, mode=self.mode)


@dataclass(frozen=True)
class Settled:
    """An answer's counts once it has ended, however it ended."""

    #: As the model server counted them (None where it did not say): what a chat saves and shows.
    usage: Usage
    #: What is charged: the server's counts, with our prompt estimate where it gave none
    #: (uncounted completion tokens are not guessed: they count as none).
    billable: Usage


# -- the seams: where an answer goes, and who may start one --------------------------------


class Destination(ABC):
    """Where one answer goes: the only thing that differs between chat, a lane and /v1."""

    @abstractmethod
    def watching(self, cancelled: threading.Event) -> AbstractContextManager[Callable[[], bool]]:
        """While the answer runs: a function asked before each event, true once it should stop
        (the caller went away: `cancelled`; or whatever else can stop an answer there)."""

    def shown(self, event: Event) -> Event:
        """An event of the model as the caller may see it."""
        return event

    @abstractmethod
    def save(self, answer: Answer, generation: Generation, settled: Settled) -> None:
        """Keep the ended answer (or not)."""

    @abstractmethod
    def done(self, answer: Answer, settled: Settled) -> DoneEvent:
        """The last event of an answer that did not fail, sent once it is saved."""


class Grant:
    """What an admission handed out for one request, and what it is told as the request runs
    (each step does nothing unless a grant overrides it)."""

    def begin(self) -> None:
        """The events are being read (never called if nobody reads them: leases then expire)."""

    def settle(self, generation: Generation, settled: Settled) -> None:
        """One answer has ended, with these counts."""

    def end(self) -> None:
        """Every answer has ended, or the caller went away, or the request failed to start."""


class Admission(ABC):
    """May the request start? Raise a ChatbotError to refuse it (nothing is saved then)."""

    @abstractmethod
    def admit(self, user_id: str, generations: Sequence[Generation]) -> Grant: ...

    def allows(self, model: str) -> bool:
        """Whether this admission would let an answer of `model` through (the arena draws only
        such models); every model unless an admission decides by model (policy: model access)."""
        return True


class _Grants(Grant):
    """Every admission's grant, told in turn; one failing to settle or end stops no other."""

    def __init__(self, grants: Sequence[Grant]):
        self._grants = list(grants)

    def begin(self) -> None:
        for grant in self._grants:
            grant.begin()

    def settle(self, generation: Generation, settled: Settled) -> None:
        _each(self._grants, lambda grant: grant.settle(generation, settled))

    def end(self) -> None:
        _each(self._grants, lambda grant: grant.end())


def _each(grants: Sequence[Grant], call: Callable[[Grant], None]) -> None:
    failure: BaseException | None = None
    for grant in grants:
        try:
            call(grant)
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


@dataclass(frozen=True)
class Job:
    """One answer to run: what to generate, and where it goes."""

    generation: Generation
    destination: Destination


#: The generate stage: a generation's events, start to Done or Error (a tool loop replaces it).
GenerateStage = Callable[[Generation], EventStream]


def first_call(generation: Generation) -> EventStream:
    """The default generate stage: the model's one call."""
    return generation.events


class _LaneFinished:
    pass


# -- the pipeline -----------------------------------------------------------------------------


class Pipeline:
    def __init__(self, *, admissions: Sequence[Admission] = (), generate: GenerateStage = first_call):
        """`admissions` are asked on every request (policy: quotas), before those of the call."""
        self._admissions = tuple(admissions)
        self._generate = generate

    def prepare(
        self,
        endpoint: Endpoint,
        overrides: dict[str, Any],
        history: Sequence[Turn],
        message: str,
        context: PromptContext = PromptContext(),
        *,
        lane: str | None = None,
        mode: StreamingMode | None = None,
    ) -> Generation:
        """Parameters, a prompt that fits, and the model's first call, checked (raises ParameterError)."""
        params = endpoint.spec.resolve_parameters(overrides)
        fitted = endpoint.fit_prompt(history, message, params, context.passages, system=context.system)
        events = endpoint.stream(fitted.prompt, params, mode=mode)
        kept = list(context.sources[: len(context.sources) - fitted.dropped_passages])
        return Generation(lane, endpoint, params, fitted, events, kept, mode)

    def admit(
        self, user_id: str, generations: Sequence[Generation], admissions: Sequence[Admission] = ()
    ) -> Grant:
        """Every admission's grant for the request, or the first refusal (earlier grants ended)."""
        grants: list[Grant] = []
        try:
            for admission in (*self._admissions, *admissions):
                grants.append(admission.admit(user_id, generations))
        except BaseException:
            with contextlib.suppress(Exception):
                _Grants(grants).end()
            raise
        return _Grants(grants)

    def usable(self, models: Sequence[str], admissions: Sequence[Admission] = ()) -> list[str]:
        """The models every admission allows, in their order (what an arena may draw from)."""
        every = (*self._admissions, *admissions)
        return [model for model in models if all(admission.allows(model) for admission in every)]

    def run(self, jobs: Sequence[Job], grant: Grant, cancelled: threading.Event) -> EventStream:
        """Every job's events: one answer streamed here, several side by side. The grant begins
        when the events are first read and ends when they end (stopped, failed or closed)."""
        grant.begin()
        try:
            if len(jobs) == 1:
                yield from self.answer(jobs[0], grant, cancelled)
            else:
                yield from self._side_by_side(jobs, grant, cancelled)
        finally:
            grant.end()

    def answer(self, job: Job, grant: Grant, cancelled: threading.Event) -> EventStream:
        """One answer: generated through an Answer, then settled and saved however it ends."""
        generation, destination = job.generation, job.destination
        answer = Answer(generation.lane)
        events = self.generate(generation)
        with destination.watching(cancelled) as should_stop:
            try:
                if generation.sources:
                    sources = SourcesEvent(lane=generation.lane, sources=generation.sources)
                    answer.feed(sources)
                    yield sources
                # Asked before each event is pulled: a stop then starts no further model call
                # (batched and blocking modes), so what was generated is what was counted.
                while not (stopped := should_stop()) and (event := next(events, None)) is not None:
                    event = destination.shown(event)
                    answer.feed(event)
                    if not isinstance(event, DoneEvent):  # Done is sent once the answer is saved
                        yield event.model_copy(update={"lane": generation.lane})
                if stopped:
                    answer.end("stopped")
            except GeneratorExit:
                answer.end("stopped")  # the caller closed the stream
                raise
            except Exception as exc:
                answer.end("error", str(exc))
                raise
            finally:
                events.close()  # closes the model's stream: the server stops decoding
                answer.end("error", "The model's stream ended before the answer did. Try again.")
                settled = self.settle(generation, answer, grant)
                self.save(destination, answer, generation, settled)
        if answer.status != "error":
            yield destination.done(answer, settled)

    # -- the stages, one method each (tests spy on them) --------------------------------------

    def generate(self, generation: Generation) -> EventStream:
        return self._generate(generation)

    def settle(self, generation: Generation, answer: Answer, grant: Grant) -> Settled:
        """The ended answer's counts, told to the request's grants (a grant that fails is logged
        and stops nothing: the answer is still saved)."""
        usage = answer.usage or Usage()
        billable = usage
        if usage.prompt_tokens is None:
            billable = usage.model_copy(update={"prompt_tokens": generation.prompt.estimated_tokens})
        settled = Settled(usage=usage, billable=billable)
        try:
            grant.settle(generation, settled)
        except Exception:
            logger.exception("Settling an answer's counts failed; the answer is saved all the same.")
        return settled

    def save(
        self, destination: Destination, answer: Answer, generation: Generation, settled: Settled
    ) -> None:
        destination.save(answer, generation, settled)

    def _side_by_side(self, jobs: Sequence[Job], grant: Grant, cancelled: threading.Event) -> EventStream:
        """Each answer streams from its own thread; their events are merged as they come."""
        merged: queue.Queue[Event | _LaneFinished] = queue.Queue()

        def run(job: Job) -> None:
            try:
                for event in self.answer(job, grant, cancelled):
                    merged.put(event)
            except Exception as exc:  # one lane failing must not take the others down
                lane = job.generation.lane
                merged.put(ErrorEvent(lane=lane, code="internal_error", message=f"This pane failed: {exc}"))
            finally:
                merged.put(_LaneFinished())

        threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
        for thread in threads:
            thread.start()
        running = len(threads)
        try:
            while running:
                item = merged.get()
                if isinstance(item, _LaneFinished):
                    running -= 1
                else:
                    yield item
        finally:
            if running:
                cancelled.set()  # the caller went away: stop every lane; each saves what it has
            for thread in threads:
                thread.join()


def renamed_start(event: Event, alias: str | None) -> Event:
    """A start event under the name a hidden lane's model is shown by (None: its own)."""
    return StartEvent(model=alias) if alias and isinstance(event, StartEvent) else event
