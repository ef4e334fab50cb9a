"""Running a turn: one model (chat) or 2 to 4 side by side (compare, arena), each lane's events
fed to an `Answer` that the answer is saved from, however it ends.

A turn saves the user's message before any model is called, streams the models' events
through, and saves each answer when it ends (`complete`, `stopped` or `error`). Anything wrong
with a request (unknown model, bad parameters, a message too long) is raised before anything
is saved.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from chatbot.api.answer import Answer
from chatbot.api.records import Lane, Message, Session, title_from, utc_now
from chatbot.api.requests import ChatRequest, CompareRequest
from chatbot.chat import arena
from chatbot.chat.stop import LocalGenerations, StopWatch, check_own_lane
from chatbot.chat.store import HistoryStore
from chatbot.errors import InvalidRequestError, MessageTooLongError
from chatbot.models.adapters import Turn
from chatbot.models.catalog import ModelCatalog
from chatbot.models.endpoints import Endpoint
from chatbot.models.events import DoneEvent, ErrorEvent, Event, SessionEvent, Source, SourcesEvent, StartEvent
from chatbot.models.spec import GenerationParams, ModelSpec
from chatbot.retrieval.retriever import DEFAULT_WORKSPACES, WITH_SHARED, Retriever


class ServiceLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Longest message a user may send, in characters.
    max_message_chars: int = 8000
    #: How often a generation reads stop requests made elsewhere (another process).
    stop_poll_s: float = 0.25
    #: Passages retrieved for a grounded answer.
    documents_k: int = 4


@dataclass
class PreparedLane:
    """One model ready to answer within a turn: everything that could refuse has run."""

    lane: str | None
    endpoint: Endpoint
    params: GenerationParams
    events: Iterator[Event]
    #: The retrieved passages this model's prompt kept (the adapter drops the last ones to fit).
    sources: list[Source]
    #: Shown instead of the model's name while an arena hides it.
    alias: str | None = None


class _LaneFinished:
    pass


class TurnRunner:
    def __init__(
        self,
        catalog: ModelCatalog,
        endpoint_factory: Callable[[ModelSpec], Endpoint],
        store: HistoryStore,
        *,
        retriever: Retriever | None = None,
        limits: ServiceLimits | None = None,
    ):
        self.catalog = catalog
        self.store = store
        self.limits = limits or ServiceLimits()
        self._endpoint_factory = endpoint_factory
        self._endpoints: dict[str, Endpoint] = {}
        self._retriever = retriever
        self._local = LocalGenerations()

    def chat(self, user_id: str, request: ChatRequest, cancelled: threading.Event) -> Iterator[Event]:
        """One model answers. Raises for a bad request; the returned events then say the rest."""
        message = self._checked_message(request.message)
        session = self.store.get_session(user_id, request.session_id) if request.session_id else None
        if session is not None and session.kind != "chat":
            raise InvalidRequestError("This is a compare session: send its messages to /compare.")
        passages, sources = self._retrieve(user_id, message, request)
        history = self._history(user_id, session, lane=None)
        lane = self._prepare(None, request.model, history, message, passages, sources, request)
        session = session or self.store.create_session(Session(user_id=user_id, title=title_from(message)))
        prompt = self.store.append_message(user_id, session.id, Message(role="user", content=message))
        views = arena.lane_views(session, hidden=False, chat_model=request.model)
        start = SessionEvent(session_id=session.id, title=session.title, round=prompt.seq, lanes=views)
        return self._turn(user_id, session, prompt.seq, start, [lane], cancelled)

    def compare(self, user_id: str, request: CompareRequest, cancelled: threading.Event) -> Iterator[Event]:
        """2 to 4 models answer the same message at once, each with its own history."""
        message = self._checked_message(request.message)
        session = self.store.get_session(user_id, request.session_id) if request.session_id else None
        if session is not None:
            if session.kind == "chat":
                raise InvalidRequestError("This is a chat session: send its messages to /chat.")
            if session.kind == "arena" and not arena.hides_models(
                session, self.store.session_votes(session.id)
            ):
                raise InvalidRequestError("This arena round is over: you voted. Start a new round.")
            arena.check_continuable(session, self.catalog.names)
        else:
            kind = "arena" if request.arena else "compare"
            session = Session(
                user_id=user_id, title=title_from(message), kind=kind, lanes=self._new_lanes(request)
            )
        stored = session if request.session_id else None
        passages, sources = self._retrieve(user_id, message, request)
        prepared = [
            self._prepare(
                lane.id,
                lane.model,
                self._history(user_id, stored, lane=lane.id),
                message,
                passages,
                sources,
                request,
                alias=arena.alias(session, lane.id),
            )
            for lane in session.lanes
        ]
        if request.session_id is None:
            session = self.store.create_session(session)
        prompt = self.store.append_message(user_id, session.id, Message(role="user", content=message))
        views = arena.lane_views(session, hidden=session.kind == "arena")
        start = SessionEvent(session_id=session.id, title=session.title, round=prompt.seq, lanes=views)
        return self._turn(user_id, session, prompt.seq, start, prepared, cancelled)

    def stop(self, user_id: str, session_id: str, lane: str | None = None) -> None:
        """Stop the session's generations (or one lane's), wherever they run."""
        if lane is not None:
            check_own_lane(self.store.get_session(user_id, session_id), lane)  # raises for another's
        self.store.request_stop(user_id, session_id, lane, utc_now())  # also checks the owner
        self._local.stop(session_id, lane)

    # -- what a turn needs, checked before anything is saved --------------------------------

    def endpoint(self, name: str) -> Endpoint:
        spec = self.catalog.get(name)  # raises UnknownModelError naming the available models
        if spec.task != "chat":
            raise InvalidRequestError(f"{name} is a {spec.task} model, not a chat model.")
        if name not in self._endpoints:
            self._endpoints[name] = self._endpoint_factory(spec)
        return self._endpoints[name]

    def _checked_message(self, message: str) -> str:
        if not message.strip():
            raise InvalidRequestError("The message is empty. Type something to send.")
        if len(message) > self.limits.max_message_chars:
            raise MessageTooLongError(
                f"The message has {len(message)} characters; the limit is {self.limits.max_message_chars}. "
                "Shorten it, or upload long text as a document."
            )
        return message

    def _new_lanes(self, request: CompareRequest) -> list[Lane]:
        if request.arena:
            return arena.arena_lanes(
                [spec.name for spec in self.catalog if spec.task == "chat"], request.lanes
            )
        return arena.new_lanes(request.models)

    def _history(self, user_id: str, session: Session | None, lane: str | None) -> list[Turn]:
        """What one model sees: every prompt and its own earlier answers (FastChat's named arena)."""
        if session is None:
            return []
        return [
            Turn(role=message.role, content=message.content)
            for message in self.store.list_messages(user_id, session.id)
            if message.content and (message.role == "user" or message.lane == lane)
        ]

    def _retrieve(
        self, user_id: str, message: str, request: ChatRequest | CompareRequest
    ) -> tuple[list[str], list[Source]]:
        if not request.use_documents:
            return [], []
        if self._retriever is None:
            raise InvalidRequestError("Document search is not set up on this deployment.")
        workspaces = WITH_SHARED if request.search_shared else DEFAULT_WORKSPACES
        chunks = self._retriever.search(user_id, message, self.limits.documents_k, workspaces=workspaces)
        sources = [
            Source(
                document_id=chunk.document_id,
                document_name=chunk.document_name,
                uploaded_by=chunk.uploaded_by,
                workspace=chunk.workspace,
                chunk_index=chunk.chunk_index,
                score=chunk.rerank_score if chunk.rerank_score is not None else chunk.fused_score,
            )
            for chunk in chunks
        ]
        return [chunk.text for chunk in chunks], sources

    def _prepare(
        self,
        lane: str | None,
        model: str,
        history: Sequence[Turn],
        message: str,
        passages: Sequence[str],
        sources: Sequence[Source],
        request: ChatRequest | CompareRequest,
        alias: str | None = None,
    ) -> PreparedLane:
        endpoint = self.endpoint(model)
        params = endpoint.spec.resolve_parameters(request.parameters)
        fitted = endpoint.fit_prompt(history, message, params, passages)
        events = endpoint.stream(fitted.prompt, params, mode=None if request.streaming else "none")
        kept = list(sources[: len(sources) - fitted.dropped_passages])
        return PreparedLane(lane, endpoint, params, events, kept, alias)

    # -- running it ---------------------------------------------------------------------------

    def _turn(
        self,
        user_id: str,
        session: Session,
        round_: int,
        start: SessionEvent,
        lanes: list[PreparedLane],
        cancelled: threading.Event,
    ) -> Iterator[Event]:
        yield start
        if len(lanes) == 1:
            yield from self._answer(user_id, session.id, round_, lanes[0], cancelled)
        else:
            yield from self._side_by_side(user_id, session.id, round_, lanes, cancelled)

    def _side_by_side(
        self,
        user_id: str,
        session_id: str,
        round_: int,
        lanes: list[PreparedLane],
        cancelled: threading.Event,
    ) -> Iterator[Event]:
        """Each lane streams from its own thread; their events are merged as they come."""
        merged: queue.Queue[Event | _LaneFinished] = queue.Queue()

        def run(lane: PreparedLane) -> None:
            try:
                for event in self._answer(user_id, session_id, round_, lane, cancelled):
                    merged.put(event)
            except Exception as exc:  # one lane failing must not take the others down
                merged.put(
                    ErrorEvent(lane=lane.lane, code="internal_error", message=f"This pane failed: {exc}")
                )
            finally:
                merged.put(_LaneFinished())

        threads = [threading.Thread(target=run, args=(lane,), daemon=True) for lane in lanes]
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

    def _answer(
        self, user_id: str, session_id: str, round_: int, lane: PreparedLane, cancelled: threading.Event
    ) -> Iterator[Event]:
        """Stream one model's answer through an Answer, and save the Answer however it ends."""
        stop_signal = threading.Event()
        watch = StopWatch(
            self.store,
            user_id,
            session_id,
            lane.lane,
            utc_now(),
            (stop_signal, cancelled),
            self.limits.stop_poll_s,
        )
        answer = Answer(lane.lane)
        with self._local.running(session_id, lane.lane, stop_signal):
            try:
                if lane.sources:
                    sources = SourcesEvent(lane=lane.lane, sources=lane.sources)
                    answer.feed(sources)
                    yield sources
                # Asked before each event is pulled: a stop then starts no further model call
                # (batched and blocking modes), so what was generated is what was counted.
                while not (stopped := watch.should_stop()) and (event := next(lane.events, None)) is not None:
                    if isinstance(event, StartEvent) and lane.alias:
                        event = StartEvent(model=lane.alias)
                    answer.feed(event)
                    if not isinstance(event, DoneEvent):  # Done is sent once the answer is saved
                        yield event.model_copy(update={"lane": lane.lane})
                if stopped:
                    answer.end("stopped")
            except GeneratorExit:
                answer.end("stopped")  # the caller closed the stream
                raise
            except Exception as exc:
                answer.end("error", str(exc))
                raise
            finally:
                lane.events.close()  # closes the model's stream: the server stops decoding
                answer.end("error", "The model's stream ended before the answer did. Try again.")
                self.store.append_message(user_id, session_id, saved(answer, lane, round_))
        if answer.status != "error":
            yield answer.done_event()


def saved(answer: Answer, lane: PreparedLane, round_: int) -> Message:
    """The stored message of an answer: what the user saw, with how it ended and its figures."""
    return Message(
        role="assistant",
        content=answer.text,
        lane=lane.lane,
        status=answer.status,
        model=lane.endpoint.spec.name,
        parameters=lane.params.model_dump(),
        usage=answer.usage,
        metrics=answer.metrics,
        error=answer.error,
        sources=answer.sources,
        reply_to=round_,
    )
