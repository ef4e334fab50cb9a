"""Conversations to take away and bring back: export one or all as Markdown or JSON, and import
JSON again. An import is idempotent (a conversation already there is skipped) and keeps each
message as it was: its status (complete, stopped, error), usage, metrics, sources and model.

Attached files travel as their references (name, type, size, id), not their bytes or text: an
import by the same user on the same deployment finds the files again (they stay in the blob
store under the user's own prefix); anywhere else the question keeps its chips, and a later
turn's prompt says the file's content is not available. A reference in an imported file can only
ever reach the importer's own files (chatbot/chat/attachments.py).

Exports show what the user may see: an arena's models stay hidden until its vote.

What an import may not do: make votes count. An imported arena comes in as a compare session
(its rounds were not run here, so nobody voted blind on them), and votes on any imported
session stay off the leaderboard (`records.is_imported_session`). Its panes must be the
service's own (2 to 4, a to d); its models are kept as history even where this deployment
does not serve them, and such a session cannot be continued.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatbot.api.records import Message, Session, imported_session_id, utc_now
from chatbot.api.sessions import Conversation, ImportResult
from chatbot.chat import arena
from chatbot.chat.sessions import SessionQueries
from chatbot.chat.store import HistoryStore, SessionNotFoundError
from chatbot.errors import InvalidRequestError

FORMAT: Final = "chatbot.conversations/1"
ExportFormat = Literal["json", "markdown"]


class ExportedConversation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session: Session
    messages: list[Message]


class ConversationsExport(BaseModel):
    """The JSON export (and import) document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["chatbot.conversations/1"] = FORMAT
    exported_at: datetime = Field(default_factory=utc_now)
    conversations: list[ExportedConversation]


class ConversationTransfer:
    def __init__(self, store: HistoryStore, sessions: SessionQueries):
        self.store = store
        self.sessions = sessions

    def export(self, user_id: str, session_id: str | None = None) -> ConversationsExport:
        """One conversation, or every conversation of the user (newest first)."""
        ids = [session_id] if session_id else self._all_ids(user_id)
        shown = [self.sessions.get_conversation(user_id, sid) for sid in ids]
        return ConversationsExport(
            conversations=[ExportedConversation(session=c.session, messages=c.messages) for c in shown]
        )

    def _all_ids(self, user_id: str) -> list[str]:
        ids, cursor = [], None
        while True:
            page = self.store.list_sessions(user_id, limit=100, cursor=cursor)
            ids += [session.id for session in page.sessions]
            if page.cursor is None:
                return ids
            cursor = page.cursor

    def import_(self, user_id: str, document: ConversationsExport) -> ImportResult:
        for conversation in document.conversations:  # all checked before anything is saved
            _check_numbering(conversation)
            arena.check_lanes(conversation.session, conversation.messages)
        imported = skipped = 0
        for conversation in document.conversations:
            original = conversation.session.id
            copy_id = imported_session_id(user_id, original)
            if self._exists(user_id, original) or self._exists(user_id, copy_id):
                skipped += 1
                continue
            self._restore(user_id, copy_id, conversation)
            imported += 1
        return ImportResult(imported=imported, skipped=skipped)

    def _exists(self, user_id: str, session_id: str) -> bool:
        try:
            self.store.get_session(user_id, session_id)
        except SessionNotFoundError:
            return False
        return True

    def _restore(self, user_id: str, session_id: str, conversation: ExportedConversation) -> None:
        kind = "compare" if conversation.session.kind == "arena" else conversation.session.kind
        session = conversation.session.model_copy(
            update={"id": session_id, "user_id": user_id, "message_count": 0, "kind": kind}
        )
        self.store.create_session(session)
        for message in conversation.messages:
            self.store.append_message(user_id, session_id, message)


def _check_numbering(conversation: ExportedConversation) -> None:
    """The store numbers messages as they are appended: the file's numbers must be 1, 2, 3…
    or prompts and the answers that name them by number would come apart."""
    seqs = [message.seq for message in conversation.messages]
    if seqs != list(range(1, len(seqs) + 1)):
        raise InvalidRequestError(
            f"Conversation {conversation.session.id!r} has messages numbered {seqs[:5]}…; "
            "an export numbers them 1, 2, 3… in order. Import the file as it was exported."
        )


def to_markdown(document: ConversationsExport) -> str:
    return "\n\n---\n\n".join(_conversation_markdown(c) for c in document.conversations) + "\n"


def _conversation_markdown(conversation: ExportedConversation | Conversation) -> str:
    session = conversation.session
    lanes = ", ".join(f"{lane.id}: {lane.model}" for lane in session.lanes)
    lines = [f"# {session.title}", "", f"*{session.kind} · {session.created_at:%Y-%m-%d %H:%M} UTC*"]
    if lanes:
        lines[-1] += f" · {lanes}"
    for message in conversation.messages:
        lines += ["", _heading(message), "", message.content or "*(no text)*"]
        if message.attachments:
            names = ", ".join(
                f"{ref.name} ({ref.content_type}, {ref.size} bytes)" for ref in message.attachments
            )
            lines += ["", f"Attached: {names}"]
        if message.error:
            lines += ["", f"> Error: {message.error}"]
    return "\n".join(lines)


def _heading(message: Message) -> str:
    if message.role == "user":
        return "## You"
    who = message.model or "Assistant"
    if message.lane:
        who += f" (pane {message.lane})"
    figures: list[str] = []
    if message.status != "complete":
        figures.append(message.status)
    if message.metrics and message.metrics.ttft_ms is not None:
        figures.append(f"TTFT {message.metrics.ttft_ms / 1000:.2f} s")
    if message.usage:
        tokens = message.usage.completion_tokens
        figures.append(f"{'—' if tokens is None else tokens} tokens")
    return f"## {who}" + (f" · {' · '.join(figures)}" if figures else "")
