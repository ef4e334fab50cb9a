"""History search and marks in Postgres (mixed into PostgresHistoryStore through
postgres_everyday.py): full-text indexes on titles and messages ('simple' configuration), and
a table of marks that goes with its session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg2.errors import ForeignKeyViolation

from chatbot.api.everyday import SearchResults, SessionHit, SessionMark
from chatbot.chat.search import SNIPPET_CHARS, order_marks
from chatbot.chat.store import SessionNotFoundError
from chatbot.postgres import ConnectionPool

if TYPE_CHECKING:
    from chatbot.api.records import Session

MIGRATIONS = [
    """
    CREATE INDEX chat_sessions_title_fts ON chat_sessions USING gin (to_tsvector('simple', title));
    CREATE INDEX chat_messages_content_fts ON chat_messages
        USING gin (to_tsvector('simple', coalesce(body->>'content', '')));
    CREATE TABLE chat_session_marks (
        session_id text PRIMARY KEY REFERENCES chat_sessions (id) ON DELETE CASCADE,
        user_id text NOT NULL,
        pinned boolean NOT NULL,
        folder text
    );
    CREATE INDEX chat_session_marks_by_user ON chat_session_marks (user_id);
    """,
]

_MESSAGE_MATCHES = (
    "to_tsvector('simple', coalesce(m.body->>'content', '')) @@ q.query AND m.session_id = s.id"
)


class PostgresSearch:
    _pool: ConnectionPool  # provided by PostgresHistoryStore

    if TYPE_CHECKING:  # the history's read, provided by PostgresHistoryStore

        def get_session(self, user_id: str, session_id: str) -> Session: ...

    def search_sessions(self, user_id: str, query: str, *, limit: int) -> SearchResults:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "WITH q AS (SELECT websearch_to_tsquery('simple', %s) AS query)"
                " SELECT s.id, s.title, s.kind, s.updated_at,"
                f" (SELECT ts_headline('simple', m.body->>'content', q.query,"
                f'   \'StartSel="", StopSel="", MaxWords=30, MinWords=8\')'
                f"  FROM chat_messages m WHERE {_MESSAGE_MATCHES} ORDER BY m.seq LIMIT 1)"
                " FROM chat_sessions s, q"
                " WHERE s.user_id = %s AND numnode(q.query) > 0"
                " AND (to_tsvector('simple', s.title) @@ q.query"
                f"      OR EXISTS (SELECT 1 FROM chat_messages m WHERE {_MESSAGE_MATCHES}))"
                " ORDER BY s.updated_at DESC, s.id DESC LIMIT %s",
                (query, user_id, limit),
            )
            rows = cur.fetchall()
        return SearchResults(
            hits=[
                SessionHit(
                    id=id_,
                    title=title,
                    kind=kind,
                    updated_at=updated_at,
                    snippet=" ".join(found.split())[:SNIPPET_CHARS] if found else None,
                )
                for id_, title, kind, updated_at, found in rows
            ]
        )

    def mark_session(self, user_id: str, session_id: str, pinned: bool, folder: str | None) -> SessionMark:
        try:
            with self._pool.transaction() as conn, conn.cursor() as cur:
                # Only the owner's session: the INSERT selects it, so someone else's id inserts nothing.
                cur.execute(
                    "INSERT INTO chat_session_marks (session_id, user_id, pinned, folder)"
                    " SELECT id, user_id, %s, %s FROM chat_sessions WHERE id = %s AND user_id = %s"
                    " ON CONFLICT (session_id) DO UPDATE SET pinned = EXCLUDED.pinned, folder = EXCLUDED.folder"
                    " RETURNING session_id",
                    (pinned, folder, session_id, user_id),
                )
                if cur.fetchone() is None:
                    raise SessionNotFoundError(session_id)
                if not pinned and folder is None:
                    cur.execute("DELETE FROM chat_session_marks WHERE session_id = %s", (session_id,))
        except ForeignKeyViolation:
            raise SessionNotFoundError(session_id) from None  # deleted meanwhile
        return next(
            (mark for mark in self.list_marks(user_id) if mark.session_id == session_id),
            None,
        ) or self._unmarked(user_id, session_id)

    def _unmarked(self, user_id: str, session_id: str) -> SessionMark:
        session = self.get_session(user_id, session_id)
        return SessionMark(
            session_id=session.id,
            title=session.title,
            kind=session.kind,
            updated_at=session.updated_at,
            pinned=False,
            folder=None,
        )

    def list_marks(self, user_id: str) -> list[SessionMark]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT s.id, s.title, s.kind, s.updated_at, k.pinned, k.folder"
                " FROM chat_session_marks k JOIN chat_sessions s ON s.id = k.session_id"
                " WHERE k.user_id = %s AND s.user_id = %s",
                (user_id, user_id),
            )
            rows = cur.fetchall()
        return order_marks(
            [
                SessionMark(
                    session_id=id_,
                    title=title,
                    kind=kind,
                    updated_at=updated_at,
                    pinned=pinned,
                    folder=folder,
                )
                for id_, title, kind, updated_at, pinned, folder in rows
            ]
        )
