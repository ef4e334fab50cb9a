"""The everyday chat features' part of the Postgres store (issue 23), mixed into
PostgresHistoryStore: feedback, share links, search and marks. Each keeps its own migration
component, so it grows without touching the history's."""

from __future__ import annotations

from chatbot.chat import postgres_feedback, postgres_search, postgres_shares
from chatbot.chat.postgres_feedback import PostgresFeedback
from chatbot.chat.postgres_search import PostgresSearch
from chatbot.chat.postgres_shares import PostgresShares
from chatbot.migrations import apply_migrations
from chatbot.postgres import ConnectionPool


class PostgresEveryday(PostgresFeedback, PostgresShares, PostgresSearch):
    _pool: ConnectionPool  # provided by PostgresHistoryStore

    def _migrate_everyday(self) -> None:
        with self._pool.connection() as conn:
            apply_migrations(conn, "chat_feedback", postgres_feedback.MIGRATIONS)
            apply_migrations(conn, "chat_shares", postgres_shares.MIGRATIONS)
            apply_migrations(conn, "chat_search", postgres_search.MIGRATIONS)
