"""Share links in Postgres (mixed into PostgresHistoryStore through postgres_everyday.py): one
row per link, its snapshot in a jsonb column."""

from __future__ import annotations

from datetime import datetime

from psycopg2.extras import Json

from chatbot.api.everyday import SharedMessage
from chatbot.chat.shares import Share, ShareNotFoundError
from chatbot.postgres import ConnectionPool

MIGRATIONS = [
    """
    CREATE TABLE chat_shares (
        id text PRIMARY KEY,
        user_id text NOT NULL,
        session_id text NOT NULL,
        title text NOT NULL,
        kind text NOT NULL,
        public boolean NOT NULL,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz,
        messages jsonb NOT NULL
    );
    CREATE INDEX chat_shares_newest_first ON chat_shares (user_id, created_at DESC);
    """,
]

_COLUMNS = "id, user_id, session_id, title, kind, public, created_at, revoked_at"


def _share(row: tuple, messages: list | None = None) -> Share:
    names = [name.strip() for name in _COLUMNS.split(",")]
    return Share(
        **dict(zip(names, row, strict=True)),
        messages=[SharedMessage.model_validate(m) for m in messages or []],
    )


class PostgresShares:
    _pool: ConnectionPool  # provided by PostgresHistoryStore

    def add_share(self, share: Share) -> Share:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                f"INSERT INTO chat_shares ({_COLUMNS}, messages) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    share.id,
                    share.user_id,
                    share.session_id,
                    share.title,
                    share.kind,
                    share.public,
                    share.created_at,
                    share.revoked_at,
                    Json([m.model_dump(mode="json") for m in share.messages]),
                ),
            )
        return share

    def find_share(self, share_id: str) -> Share | None:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(f"SELECT {_COLUMNS}, messages FROM chat_shares WHERE id = %s", (share_id,))
            row = cur.fetchone()
        return None if row is None else _share(row[:-1], row[-1])

    def list_shares(self, user_id: str) -> list[Share]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM chat_shares WHERE user_id = %s ORDER BY created_at DESC, id",
                (user_id,),
            )
            return [_share(row) for row in cur.fetchall()]

    def revoke_share(self, user_id: str, share_id: str, at: datetime) -> Share:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE chat_shares SET revoked_at = coalesce(revoked_at, %s) WHERE id = %s AND user_id = %s"
                f" RETURNING {_COLUMNS}",
                (at, share_id, user_id),
            )
            row = cur.fetchone()
        if row is None:
            raise ShareNotFoundError()
        return _share(row)
