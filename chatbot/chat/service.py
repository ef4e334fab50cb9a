"""ChatService: the one entry point of the chat API into conversations, turns and votes.

It only composes the parts, each with one job:
- `sessions.SessionQueries`: listing, reading, renaming and deleting a user's sessions;
- `turns.TurnRunner`: running a chat or compare turn, and `completions.Completions` a `/v1`
  call, each answer through the one generation pipeline (`pipeline`);
- `votes.Votes`: votes and the leaderboard;
- `transfer.ConversationTransfer`: conversations exported (JSON, Markdown) and imported;
- `arena`: what an arena hides, and when it is revealed (the others ask it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from chatbot.api.records import Session, SessionPage
from chatbot.api.requests import ChatRequest, CompareRequest, VoteRequest
from chatbot.chat.attachments import Attachments
from chatbot.chat.battles import import_battles, read_battles
from chatbot.chat.chat_store import ChatStore
from chatbot.chat.completions import Completions
from chatbot.chat.costs import Hosting
from chatbot.chat.leaderboard import Leaderboard
from chatbot.chat.pipeline import Admission, Pipeline
from chatbot.chat.sessions import Conversation, SessionQueries
from chatbot.chat.transfer import ConversationsExport, ConversationTransfer, ImportResult
from chatbot.chat.turns import ServiceLimits, TurnRunner
from chatbot.chat.vote_rules import VoteRules
from chatbot.chat.votes import VoteResult, Votes
from chatbot.models.catalog import ModelCatalog
from chatbot.models.endpoints import Endpoint
from chatbot.models.events import EventStream
from chatbot.models.spec import ModelSpec
from chatbot.retrieval.retriever import Retriever

if TYPE_CHECKING:  # the tools bring the MCP client: imported only where a chat uses them
    from chatbot.tools.toolbox import Toolbox

__all__ = ["BattlesImported", "ChatService", "Conversation", "ServiceLimits", "VoteResult"]


class BattlesImported(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    imported: int
    #: Votes already in the store (a round takes one vote).
    skipped: int


class ChatService:
    def __init__(
        self,
        catalog: ModelCatalog,
        endpoint_factory: Callable[[ModelSpec], Endpoint],
        store: ChatStore,
        *,
        retriever: Retriever | None = None,
        limits: ServiceLimits | None = None,
        vote_rules: VoteRules | None = None,
        hosting: Hosting = "local",
        pipeline: Pipeline | None = None,
        attachments: Attachments | None = None,
    ):
        """`hosting`: "local" when the models run on this machine (they cost $0), else "aws".
        `pipeline`: the generation pipeline every answer runs through (policy passes its
        admissions here: see chatbot.chat.pipeline)."""
        self.catalog = catalog
        self.store = store
        self.sessions = SessionQueries(store)
        self.turns = TurnRunner(
            catalog,
            endpoint_factory,
            store,
            retriever=retriever,
            limits=limits,
            pipeline=pipeline,
            attachments=attachments,
        )
        self.votes = Votes(store, catalog, rules=vote_rules, hosting=hosting)
        self.transfer = ConversationTransfer(store, self.sessions)

    @property
    def limits(self) -> ServiceLimits:
        return self.turns.limits

    # -- sessions -------------------------------------------------------------------------

    def list_sessions(self, user_id: str, *, limit: int = 20, cursor: str | None = None) -> SessionPage:
        return self.sessions.list_sessions(user_id, limit=limit, cursor=cursor)

    def get_conversation(self, user_id: str, session_id: str) -> Conversation:
        return self.sessions.get_conversation(user_id, session_id)

    def rename_session(self, user_id: str, session_id: str, title: str) -> Session:
        return self.sessions.rename_session(user_id, session_id, title)

    def delete_session(self, user_id: str, session_id: str) -> None:
        self.sessions.delete_session(user_id, session_id)

    def delete_all_sessions(self, user_id: str) -> int:
        return self.sessions.delete_all_sessions(user_id)

    def export_conversations(self, user_id: str, session_id: str | None = None) -> ConversationsExport:
        return self.transfer.export(user_id, session_id)

    def import_conversations(self, user_id: str, document: ConversationsExport) -> ImportResult:
        return self.transfer.import_(user_id, document)

    # -- turns ----------------------------------------------------------------------------

    def endpoint(self, name: str) -> Endpoint:
        """A chat model's endpoint; raises UnknownModelError or InvalidRequestError."""
        return self.turns.endpoint(name)

    def chat(
        self,
        user_id: str,
        request: ChatRequest,
        *,
        cancelled: threading.Event | None = None,
        admissions: Sequence[Admission] = (),
        toolbox: Toolbox | None = None,
    ) -> EventStream:
        """One model answers (with `toolbox`, through the tool loop). Raises for a bad request (or
        one an admission refuses); the returned events then say the rest."""
        return self.turns.chat(user_id, request, cancelled or threading.Event(), admissions, toolbox)

    def compare(
        self,
        user_id: str,
        request: CompareRequest,
        *,
        cancelled: threading.Event | None = None,
        admissions: Sequence[Admission] = (),
    ) -> EventStream:
        """2 to 4 models answer the same message at once, each with its own history."""
        return self.turns.compare(user_id, request, cancelled or threading.Event(), admissions)

    def completions(self) -> Completions:
        """Stateless `/v1` completions through the same pipeline as chat and compare."""
        return Completions(
            self.endpoint,
            self.store,
            max_message_chars=self.limits.max_message_chars,
            pipeline=self.turns.pipeline,
        )

    def stop(self, user_id: str, session_id: str, lane: str | None = None) -> None:
        self.turns.stop(user_id, session_id, lane)

    # -- votes ----------------------------------------------------------------------------

    def vote(self, user_id: str, request: VoteRequest) -> VoteResult:
        return self.votes.vote(user_id, request)

    def leaderboard(self) -> Leaderboard:
        return self.votes.leaderboard()

    def import_battles(self, lines: Sequence[str]) -> BattlesImported:
        """A battles file's votes into the store (administrators); those already there are skipped."""
        battles = read_battles(lines)  # raises, naming the line, before anything is stored
        added = import_battles(self.store, battles)
        self.votes.board.votes_arrived()
        return BattlesImported(imported=added, skipped=len(battles) - added)
