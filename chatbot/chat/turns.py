"""Running a turn: one model (chat) or 2 to 4 side by side (compare, arena), each lane's events
fed to an `Answer` that the answer is saved from, however it ends.

A turn saves the user's message before any model is called, streams the models' events
through, and saves each answer when it ends (`complete`, `stopped` or `error`). Anything wrong
with a request (unknown model, bad parameters, a message too long) is raised before anything
is saved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from chatbot.api.records import Lane, Message, Session, title_from, utc_now
from chatbot.api.requests import ChatRequest, CompareRequest
from chatbot.chat import arena, branches
from chatbot.chat.attachments import Attached, Attachments, check_fits, left_out_files, with_images
from chatbot.chat.destinations import SessionAnswer
from chatbot.chat.pipeline import Admission, Generation, Job, Pipeline, PromptContext
from chatbot.chat.stop import LocalGenerations, check_own_lane
from chatbot.chat.store import HistoryStore
from chatbot.errors import InvalidRequestError, MessageTooLongError
from chatbot.models.adapters import Turn
from chatbot.models.catalog import ModelCatalog
from chatbot.models.endpoints import Endpoint
from chatbot.models.events import Event, EventStream, SessionEvent, Source
from chatbot.models.spec import ModelSpec
from chatbot.retrieval.retriever import DEFAULT_WORKSPACES, WITH_SHARED, Retriever

if TYPE_CHECKING:  # the tools bring the MCP client: imported only where a chat uses them
    from chatbot.tools.toolbox import Toolbox


class ServiceLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Longest message a user may send, in characters.
    max_message_chars: int = 8000
    #: How often a generation reads stop requests made elsewhere (another process).
    stop_poll_s: float = 0.25
    #: Passages retrieved for a grounded answer.
    documents_k: int = 4


class TurnRunner:
    """Chat and compare turns: each answer runs through the one generation pipeline, into its
    session (a `SessionAnswer`); this class says which session, history and lanes."""

    def __init__(
        self,
        catalog: ModelCatalog,
        endpoint_factory: Callable[[ModelSpec], Endpoint],
        store: HistoryStore,
        *,
        retriever: Retriever | None = None,
        limits: ServiceLimits | None = None,
        pipeline: Pipeline | None = None,
        attachments: Attachments | None = None,
    ):
        self.catalog = catalog
        self.attachments = attachments
        self.store = store
        self.limits = limits or ServiceLimits()
        self.pipeline = pipeline or Pipeline()
        self._endpoint_factory = endpoint_factory
        self._endpoints: dict[str, Endpoint] = {}
        self._retriever = retriever
        self._local = LocalGenerations()

    def chat(
        self,
        user_id: str,
        request: ChatRequest,
        cancelled: threading.Event,
        admissions: Sequence[Admission] = (),
        toolbox: Toolbox | None = None,
    ) -> EventStream:
        """One model answers (`toolbox`: with the tools the user chose, through the tool loop).
        Raises for a bad request; the returned events then say the rest."""
        message = self._checked_message(request.message)
        if request.tools and toolbox is None:
            raise InvalidRequestError("This chat names tools, but none could be resolved for it.")
        session = self.store.get_session(user_id, request.session_id) if request.session_id else None
        if session is not None and session.kind != "chat":
            raise InvalidRequestError("This is a compare session: send its messages to /chat.")
        files = self._attached(user_id, request, message)
        history, parent, path = self._branch(user_id, session, request)
        context = self._with_files(user_id, files, self._retrieve(user_id, message, request), path)
        generation = with_images(
            self._prepare(None, request.model, history, message, context, request), files
        )
        generation.sources += left_out_files(context, generation)  # the answer's notes say which
        if toolbox is not None:
            generation = toolbox.around(generation, cancelled)
        grant = self.pipeline.admit(user_id, [generation], admissions)
        try:
            session = session or self.store.create_session(
                Session(user_id=user_id, title=title_from(message), preset=request.preset)
            )
            prompt = self.store.append_message(
                user_id,
                session.id,
                Message(role="user", content=message, parent=parent, attachments=[f.ref for f in files]),
            )
        except BaseException:
            grant.end()
            raise
        views = arena.lane_views(session, hidden=False, chat_model=request.model)
        start = SessionEvent(session_id=session.id, title=session.title, round=prompt.seq, lanes=views)
        jobs = [Job(generation, self._destination(user_id, session, prompt.seq, None))]
        return _after(start, self.pipeline.run(jobs, grant, cancelled))

    def compare(
        self,
        user_id: str,
        request: CompareRequest,
        cancelled: threading.Event,
        admissions: Sequence[Admission] = (),
    ) -> EventStream:
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
                user_id=user_id,
                title=title_from(message),
                kind=kind,
                lanes=self._new_lanes(request, admissions),
                preset=request.preset,
            )
        stored = session if request.session_id else None
        context = self._retrieve(user_id, message, request)
        generations = [
            self._prepare(
                lane.id,
                lane.model,
                self._history(user_id, stored, lane=lane.id),
                message,
                context,
                request,
            )
            for lane in session.lanes
        ]
        grant = self.pipeline.admit(user_id, generations, admissions)
        try:
            if request.session_id is None:
                session = self.store.create_session(session)
            prompt = self.store.append_message(user_id, session.id, Message(role="user", content=message))
        except BaseException:
            grant.end()
            raise
        views = arena.lane_views(session, hidden=session.kind == "arena")
        start = SessionEvent(session_id=session.id, title=session.title, round=prompt.seq, lanes=views)
        jobs = [
            Job(generation, self._destination(user_id, session, prompt.seq, generation.lane))
            for generation in generations
        ]
        return _after(start, self.pipeline.run(jobs, grant, cancelled))

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

    def _new_lanes(self, request: CompareRequest, admissions: Sequence[Admission]) -> list[Lane]:
        if request.arena:  # drawn only from the models the caller may use
            chat_models = [spec.name for spec in self.catalog if spec.task == "chat"]
            return arena.arena_lanes(self.pipeline.usable(chat_models, admissions), request.lanes)
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

    def _branch(
        self, user_id: str, session: Session | None, request: ChatRequest
    ) -> tuple[list[Turn], int | None, list[Message]]:
        """A chat's history is the branch its new question follows, and that branch's last
        message is the question's parent (edit and branch, chatbot/chat/branches.py); the
        branch's messages come back too (their attachments stay in context)."""
        if session is None:
            if request.edit_of is not None or request.parent is not None:
                raise InvalidRequestError(
                    "edit_of and parent need the session_id of the chat they point into."
                )
            return [], None, []
        messages = self.store.list_messages(user_id, session.id)
        parent = branches.parent_for(messages, edit_of=request.edit_of, parent=request.parent)
        path = branches.path_to(messages, parent)
        return [Turn(role=m.role, content=m.content) for m in path if m.content], parent, path

    def _attached(self, user_id: str, request: ChatRequest, message: str) -> list[Attached]:
        """The question's own files, checked to fit the model's window (raises before anything
        is saved: 404 for an id not the caller's, 422 for files too long for the model)."""
        if not request.attachments:
            return []
        if self.attachments is None:
            raise InvalidRequestError("Attachments are not set up on this deployment.")
        files = self.attachments.resolve(user_id, request.attachments)
        check_fits(self.endpoint(request.model), request.parameters, message, files)
        return files

    def _with_files(
        self, user_id: str, files: Sequence[Attached], retrieved: PromptContext, path: Sequence[Message]
    ) -> PromptContext:
        """The question's files first, then retrieved passages, then the branch's earlier
        files, newest first: the adapter drops passages from the end, so the oldest go first."""
        if self.attachments is None:
            return retrieved
        files = [f for f in files if not f.is_image]  # images travel as image blocks (with_images)
        seen = {f.ref.id for f in files}
        earlier: list[Attached] = []
        for message in reversed(path):
            for ref in message.attachments if message.role == "user" else ():
                if ref.id not in seen and not ref.content_type.startswith("image/"):
                    seen.add(ref.id)
                    earlier.append(self.attachments.load(user_id, ref))
        if not files and not earlier:
            return retrieved
        own = PromptContext(system=retrieved.system).plus(
            [f.passage() for f in files], [f.source() for f in files]
        )
        return own.plus(retrieved.passages, retrieved.sources).plus(
            [f.passage() for f in earlier], [f.source() for f in earlier]
        )

    def _retrieve(self, user_id: str, message: str, request: ChatRequest | CompareRequest) -> PromptContext:
        asked = PromptContext(system=request.system_prompt)  # None: the model's own
        if not request.use_documents:
            return asked
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
        return asked.plus([chunk.text for chunk in chunks], sources)

    def _prepare(
        self,
        lane: str | None,
        model: str,
        history: Sequence[Turn],
        message: str,
        context: PromptContext,
        request: ChatRequest | CompareRequest,
    ) -> Generation:
        return self.pipeline.prepare(
            self.endpoint(model),
            request.parameters,
            history,
            message,
            context,
            lane=lane,
            mode=None if request.streaming else "none",
        )

    def _destination(self, user_id: str, session: Session, round_: int, lane: str | None) -> SessionAnswer:
        return SessionAnswer(
            self.store,
            self._local,
            user_id,
            session.id,
            round_,
            lane=lane,
            alias=arena.alias(session, lane),
            stop_poll_s=self.limits.stop_poll_s,
        )


def _after(first: Event, events: EventStream) -> EventStream:
    """`first`, then `events`; closing this closes them (a stop reaches the model)."""
    try:
        yield first
        yield from events
    finally:
        events.close()
