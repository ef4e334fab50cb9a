"""ChatService: conversations with one model, or several side by side, kept in a HistoryStore.

A turn saves the user's message before the model is called, streams the model's events
through, and saves the answer when it ends, with what was generated and how it ended
(`complete`, `stopped` or `error`). Anything wrong with a request (unknown model, bad
parameters, a message too long) is raised before anything is saved.
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from chatbot.chat.leaderboard import Leaderboard, build_leaderboard
from chatbot.chat.records import Lane, Message, Session, SessionPage, Vote, title_from, utc_now
from chatbot.chat.requests import ChatRequest, CompareRequest, VoteRequest
from chatbot.chat.stop import LocalGenerations, StopWatch
from chatbot.chat.store import HistoryStore
from chatbot.errors import InvalidRequestError, MessageTooLongError
from chatbot.models.adapters import FittedPrompt, Turn
from chatbot.models.catalog import ModelCatalog
from chatbot.models.endpoints import Endpoint
from chatbot.models.events import (
    DoneEvent,
    ErrorEvent,
    Event,
    SessionEvent,
    Source,
    SourcesEvent,
    StartEvent,
    TokenEvent,
    Usage,
)
from chatbot.models.spec import GenerationParams, ModelSpec
from chatbot.models.timing import ResponseTimer
from chatbot.retrieval.retriever import Retriever

LANE_IDS = "abcd"


class ServiceLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Longest message a user may send, in characters.
    max_message_chars: int = 8000
    #: How often a generation reads stop requests made elsewhere (another process).
    stop_poll_s: float = 0.25
    #: Passages retrieved for a grounded answer.
    documents_k: int = 4


class Conversation(BaseModel):
    """A session with its messages, as a user may see it (arena models hidden until the vote)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session: Session
    messages: list[Message]
    #: Arena sessions: whether the models have been revealed by a vote.
    revealed: bool = True
    #: Compare and arena sessions: the rounds already voted on (a round takes one vote).
    voted_rounds: list[int] = []


@dataclass
class _Lane:
    """One model answering within a turn."""

    lane: str | None
    endpoint: Endpoint
    params: GenerationParams
    fitted: FittedPrompt
    events: Iterator[Event]
    #: The retrieved passages this model's prompt kept (the adapter drops the last ones to fit).
    sources: list[Source]
    #: Shown instead of the model's name (arena).
    alias: str | None = None


class _LaneFinished:
    pass


def hidden_name(lane_id: str) -> str:
    return f"Model {lane_id.upper()}"


class ChatService:
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

    # -- sessions -------------------------------------------------------------------------

    def list_sessions(self, user_id: str, *, limit: int = 20, cursor: str | None = None) -> SessionPage:
        page = self.store.list_sessions(user_id, limit=limit, cursor=cursor)
        return page.model_copy(update={"sessions": [self._as_shown(session) for session in page.sessions]})

    def _as_shown(self, session: Session) -> Session:
        """An arena session's models stay hidden until its vote."""
        if session.kind != "arena" or self.store.session_votes(session.id):
            return session
        lanes = [lane.model_copy(update={"model": hidden_name(lane.id)}) for lane in session.lanes]
        return session.model_copy(update={"lanes": lanes})

    def get_conversation(self, user_id: str, session_id: str) -> Conversation:
        session = self.store.get_session(user_id, session_id)
        messages = self.store.list_messages(user_id, session_id)
        voted = (
            [vote.round for vote in self.store.session_votes(session_id)] if session.kind != "chat" else []
        )
        if session.kind != "arena" or voted:
            return Conversation(session=session, messages=messages, voted_rounds=voted)
        return Conversation(
            session=self._as_shown(session),
            messages=[m.model_copy(update={"model": m.lane and hidden_name(m.lane)}) for m in messages],
            revealed=False,
        )

    def rename_session(self, user_id: str, session_id: str, title: str) -> Session:
        title = " ".join(title.split())
        if not title:
            raise InvalidRequestError("A title cannot be empty.")
        return self.store.rename_session(user_id, session_id, title[:200])

    def delete_session(self, user_id: str, session_id: str) -> None:
        self.store.delete_session(user_id, session_id)

    def delete_all_sessions(self, user_id: str) -> int:
        return self.store.delete_all_sessions(user_id)

    # -- turns ----------------------------------------------------------------------------

    def chat(
        self, user_id: str, request: ChatRequest, *, cancelled: threading.Event | None = None
    ) -> Iterator[Event]:
        """One model answers. Raises for a bad request; the returned events then say the rest."""
        message = self._checked_message(request.message)
        session = self.store.get_session(user_id, request.session_id) if request.session_id else None
        if session is not None and session.kind != "chat":
            raise InvalidRequestError("This is a compare session: send its messages to /compare.")
        passages, sources = self._retrieve(user_id, message, request.use_documents)
        history = self._history(user_id, session, lane=None)
        lane = self._prepare_lane(None, request.model, history, message, passages, sources, request)
        session = session or self.store.create_session(Session(user_id=user_id, title=title_from(message)))
        prompt = self.store.append_message(user_id, session.id, Message(role="user", content=message))
        return self._turn(user_id, session, prompt, [lane], cancelled or threading.Event())

    def compare(
        self, user_id: str, request: CompareRequest, *, cancelled: threading.Event | None = None
    ) -> Iterator[Event]:
        """2 to 4 models answer the same message at once, each with its own history."""
        message = self._checked_message(request.message)
        session = self.store.get_session(user_id, request.session_id) if request.session_id else None
        if session is not None:
            if session.kind == "chat":
                raise InvalidRequestError("This is a chat session: send its messages to /chat.")
            if session.kind == "arena" and self.store.session_votes(session.id):
                raise InvalidRequestError("This arena round is over: you voted. Start a new round.")
            lanes = session.lanes
        else:
            lanes = self._new_lanes(request)
        passages, sources = self._retrieve(user_id, message, request.use_documents)
        arena = request.arena if session is None else session.kind == "arena"
        prepared = [
            self._prepare_lane(
                lane.id,
                lane.model,
                self._history(user_id, session, lane=lane.id),
                message,
                passages,
                sources,
                request,
                alias=hidden_name(lane.id) if arena else None,
            )
            for lane in lanes
        ]
        if session is None:
            kind = "arena" if arena else "compare"
            session = self.store.create_session(
                Session(user_id=user_id, title=title_from(message), kind=kind, lanes=lanes)
            )
        prompt = self.store.append_message(user_id, session.id, Message(role="user", content=message))
        return self._turn(user_id, session, prompt, prepared, cancelled or threading.Event())

    def stop(self, user_id: str, session_id: str, lane: str | None = None) -> None:
        """Stop the session's generations (or one lane's), wherever they run."""
        self.store.request_stop(user_id, session_id, lane, utc_now())  # also checks the owner
        self._local.stop(session_id, lane)

    # -- votes ----------------------------------------------------------------------------

    def vote(self, user_id: str, request: VoteRequest) -> Vote:
        session = self.store.get_session(user_id, request.session_id)
        if session.kind == "chat":
            raise InvalidRequestError("Votes are for compare and arena sessions.")
        messages = self.store.list_messages(user_id, session.id)
        if not any(m.seq == request.round and m.role == "user" for m in messages):
            raise InvalidRequestError(f"Round {request.round} is not a prompt of this session.")
        answered = {m.lane for m in messages if m.role == "assistant" and m.reply_to == request.round}
        if answered != {lane.id for lane in session.lanes}:
            raise InvalidRequestError("Wait until every pane has finished before voting.")
        _check_choice(request, [lane.id for lane in session.lanes])
        vote = Vote(
            session_id=session.id,
            round=request.round,
            user_id=user_id,
            choice=request.choice,
            best_lane=request.best_lane,
            models=[lane.model for lane in session.lanes],
            anonymous=session.kind == "arena",
        )
        return self.store.add_vote(vote)

    def leaderboard(self) -> Leaderboard:
        return build_leaderboard(self.store.list_votes(anonymous_only=True))

    # -- the parts of a turn ----------------------------------------------------------------

    def endpoint(self, name: str) -> Endpoint:
        """A chat model's endpoint; raises UnknownModelError or InvalidRequestError."""
        return self._endpoint(name)

    def _endpoint(self, name: str) -> Endpoint:
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
            chat_models = [spec.name for spec in self.catalog if spec.task == "chat"]
            if len(chat_models) < request.lanes:
                raise InvalidRequestError(
                    f"The arena needs {request.lanes} chat models; only {len(chat_models)} are available."
                )
            models = random.sample(chat_models, request.lanes)
        else:
            models = request.models
            if not 2 <= len(models) <= len(LANE_IDS):
                raise InvalidRequestError(f"Compare 2 to {len(LANE_IDS)} models; {len(models)} were given.")
        return [Lane(id=lane_id, model=model) for lane_id, model in zip(LANE_IDS, models, strict=False)]

    def _history(self, user_id: str, session: Session | None, lane: str | None) -> list[Turn]:
        """What one model sees: every prompt and its own earlier answers (FastChat's named arena)."""
        if session is None:
            return []
        return [
            Turn(role=message.role, content=message.content)
            for message in self.store.list_messages(user_id, session.id)
            if message.content and (message.role == "user" or message.lane == lane)
        ]

    def _retrieve(self, user_id: str, message: str, wanted: bool) -> tuple[list[str], list[Source]]:
        if not wanted:
            return [], []
        if self._retriever is None:
            raise InvalidRequestError("Document search is not set up on this deployment.")
        chunks = self._retriever.search(user_id, message, self.limits.documents_k)
        sources = [
            Source(
                document_id=chunk.document_id,
                document_name=chunk.document_name,
                chunk_index=chunk.chunk_index,
                score=chunk.rerank_score if chunk.rerank_score is not None else chunk.fused_score,
            )
            for chunk in chunks
        ]
        return [chunk.text for chunk in chunks], sources

    def _prepare_lane(
        self,
        lane: str | None,
        model: str,
        history: Sequence[Turn],
        message: str,
        passages: Sequence[str],
        sources: Sequence[Source],
        request: ChatRequest | CompareRequest,
        alias: str | None = None,
    ) -> _Lane:
        """Everything that can refuse a request, done before anything is saved."""
        endpoint = self._endpoint(model)
        params = endpoint.spec.resolve_parameters(request.parameters)
        fitted = endpoint.fit_prompt(history, message, params, passages)
        events = endpoint.stream(fitted.prompt, params, mode=None if request.streaming else "none")
        kept = list(sources[: len(sources) - fitted.dropped_passages])
        return _Lane(lane, endpoint, params, fitted, events, kept, alias)

    def _turn(
        self,
        user_id: str,
        session: Session,
        prompt: Message,
        lanes: list[_Lane],
        cancelled: threading.Event,
    ) -> Iterator[Event]:
        yield SessionEvent(session_id=session.id, title=session.title, round=prompt.seq)
        if len(lanes) == 1:
            yield from self._answer(user_id, session.id, prompt.seq, lanes[0], cancelled)
        else:
            yield from self._answer_side_by_side(user_id, session.id, prompt.seq, lanes, cancelled)

    def _answer_side_by_side(
        self,
        user_id: str,
        session_id: str,
        round_: int,
        lanes: list[_Lane],
        cancelled: threading.Event,
    ) -> Iterator[Event]:
        """Each lane streams from its own thread; their events are merged as they come."""
        merged: queue.Queue[Event | _LaneFinished] = queue.Queue()

        def run(lane: _Lane) -> None:
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
        self,
        user_id: str,
        session_id: str,
        round_: int,
        lane: _Lane,
        cancelled: threading.Event,
    ) -> Iterator[Event]:
        """Stream one model's answer and save it, however it ends."""
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
        timer = ResponseTimer()
        text: list[str] = []
        status, error, done = "complete", None, None
        with self._local.running(session_id, lane.lane, stop_signal):
            try:
                if lane.sources:
                    yield SourcesEvent(lane=lane.lane, sources=lane.sources)
                for event in lane.events:
                    if watch.should_stop():
                        status = "stopped"
                        break
                    if isinstance(event, StartEvent) and lane.alias:
                        event = StartEvent(model=lane.alias)
                    elif isinstance(event, TokenEvent):
                        timer.text_arrived()
                        text.append(event.text)
                    elif isinstance(event, ErrorEvent):
                        status, error = "error", event.message
                    elif isinstance(event, DoneEvent):
                        done = event
                        continue  # sent once the answer is saved
                    yield event.model_copy(update={"lane": lane.lane})
            except GeneratorExit:
                status = "stopped"  # the caller closed the stream
                raise
            except Exception as exc:
                status, error = "error", str(exc)
                raise
            finally:
                lane.events.close()  # closes the model's stream: the server stops decoding
                if done is None:
                    done = DoneEvent(
                        finish_reason="stopped" if status == "stopped" else "error",
                        usage=Usage(completion_tokens=len(text)),
                        metrics=timer.metrics(len(text)),
                    )
                self.store.append_message(
                    user_id,
                    session_id,
                    Message(
                        role="assistant",
                        content="".join(text),
                        lane=lane.lane,
                        status=status,
                        model=lane.endpoint.spec.name,
                        parameters=lane.params.model_dump(),
                        usage=done.usage,
                        metrics=done.metrics,
                        error=error,
                        sources=lane.sources,
                        reply_to=round_,
                    ),
                )
        if status != "error":
            yield done.model_copy(update={"lane": lane.lane})


def _check_choice(request: VoteRequest, lanes: list[str]) -> None:
    two = {"left", "right", "tie", "both_bad"}
    many = {"best", "all_bad"}
    allowed = two if len(lanes) == 2 else many
    if request.choice not in allowed:
        raise InvalidRequestError(f"With {len(lanes)} panes, vote one of: {', '.join(sorted(allowed))}.")
    if request.choice == "best" and request.best_lane not in lanes:
        raise InvalidRequestError(f"Name the best pane: one of {', '.join(lanes)}.")
