"""Reading and tidying a user's sessions, as the user may see them (the arena policy decides
what stays hidden)."""

from __future__ import annotations

from chatbot.api.records import Session, SessionPage
from chatbot.api.sessions import Conversation
from chatbot.chat import arena
from chatbot.chat.store import HistoryStore
from chatbot.errors import InvalidRequestError


class SessionQueries:
    def __init__(self, store: HistoryStore):
        self.store = store

    def list_sessions(self, user_id: str, *, limit: int = 20, cursor: str | None = None) -> SessionPage:
        page = self.store.list_sessions(user_id, limit=limit, cursor=cursor)
        return page.model_copy(update={"sessions": [self._as_shown(session) for session in page.sessions]})

    def _as_shown(self, session: Session) -> Session:
        hidden = session.kind == "arena" and arena.hides_models(session, self.store.session_votes(session.id))
        return arena.session_as_shown(session, hidden=hidden)

    def get_conversation(self, user_id: str, session_id: str) -> Conversation:
        session = self.store.get_session(user_id, session_id)
        messages = self.store.list_messages(user_id, session_id)
        votes = self.store.session_votes(session_id) if session.kind != "chat" else []
        hidden = arena.hides_models(session, votes)
        chat_model = next((m.model for m in reversed(messages) if m.model), None)
        return Conversation(
            session=arena.session_as_shown(session, hidden=hidden),
            messages=arena.messages_as_shown(messages, hidden=hidden),
            lanes=arena.lane_views(session, hidden=hidden, chat_model=chat_model),
            revealed=not hidden,
            voted_rounds=[vote.round for vote in votes],
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


__all__ = ["Conversation", "SessionQueries"]
