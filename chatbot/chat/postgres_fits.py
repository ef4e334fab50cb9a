"""The stored fit and the refit lease in Postgres (mixed into PostgresHistoryStore; the contract
is chatbot/chat/fit_store.py): one row each, written by one conditional statement."""

from __future__ import annotations

from datetime import datetime, timedelta

from psycopg2.extras import Json

from chatbot.chat.fit_store import StoredFit
from chatbot.migrations import apply_migrations
from chatbot.postgres import ConnectionPool

MIGRATIONS = [
    """
    CREATE TABLE arena_fit (
        id smallint PRIMARY KEY CHECK (id = 1),
        version bigint NOT NULL,
        fitted_at timestamptz NOT NULL,
        body jsonb NOT NULL
    );
    CREATE TABLE arena_refit_lease (
        id smallint PRIMARY KEY CHECK (id = 1),
        holder text NOT NULL,
        until timestamptz NOT NULL
    );
    """,
]


class PostgresArenaFits:
    _pool: ConnectionPool  # provided by PostgresHistoryStore

    def _migrate_arena_fits(self) -> None:
        with self._pool.connection() as conn:
            apply_migrations(conn, "arena_fits", MIGRATIONS)

    def stored_fit(self) -> StoredFit | None:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT version, fitted_at, body FROM arena_fit WHERE id = 1")
            row = cur.fetchone()
        if row is None:
            return None
        version, _, body = row
        return StoredFit.read(version, body)

    def save_fit(self, fit: StoredFit) -> bool:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO arena_fit (id, version, fitted_at, body) VALUES (1, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version,"
                " fitted_at = EXCLUDED.fitted_at, body = EXCLUDED.body"
                " WHERE arena_fit.version < EXCLUDED.version RETURNING version",
                (fit.version, fit.fitted_at, Json(fit.model_dump(mode="json"))),
            )
            return cur.fetchone() is not None

    def take_refit_lease(self, holder: str, now: datetime, hold_s: float) -> bool:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO arena_refit_lease (id, holder, until) VALUES (1, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until"
                " WHERE arena_refit_lease.until <= %s OR arena_refit_lease.holder = EXCLUDED.holder"
                " RETURNING holder",
                (holder, now + timedelta(seconds=hold_s), now),
            )
            return cur.fetchone() is not None

    def end_refit_lease(self, holder: str) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM arena_refit_lease WHERE id = 1 AND holder = %s", (holder,))
