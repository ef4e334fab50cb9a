"""API keys in Postgres (mixed into PostgresHistoryStore): one row per key, found by its hash.

The cap on a user's active keys is checked in the INSERT itself, under a per-user advisory
lock: creations by one user queue on the lock, so each one counts the keys committed by the
one before it, and 40 requests at once still leave at most the cap.
"""

from __future__ import annotations

from datetime import datetime

from chatbot.chat.api_keys import MAX_ACTIVE_KEYS, ApiKey, ApiKeyNotFoundError, TooManyApiKeysError
from chatbot.migrations import apply_migrations
from chatbot.postgres import ConnectionPool

MIGRATIONS = [
    """
    CREATE TABLE api_keys (
        id text PRIMARY KEY,
        user_id text NOT NULL,
        name text NOT NULL,
        prefix text NOT NULL,
        key_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz,
        last_used_at timestamptz,
        requests bigint NOT NULL DEFAULT 0,
        prompt_tokens bigint NOT NULL DEFAULT 0,
        completion_tokens bigint NOT NULL DEFAULT 0
    );
    CREATE INDEX api_keys_newest_first ON api_keys (user_id, created_at DESC);
    """,
]

_COLUMNS = list(ApiKey.model_fields)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM api_keys"
#: The first half of the advisory lock key of a user's key creations (the second is the user's hash).
_KEY_CAP_LOCK = 0x4B455953  # "KEYS"


def _record(row: tuple) -> ApiKey:
    return ApiKey.model_validate(dict(zip(_COLUMNS, row, strict=True)))


class PostgresApiKeys:
    _pool: ConnectionPool  # provided by PostgresHistoryStore

    def _migrate_api_keys(self) -> None:
        with self._pool.connection() as conn:
            apply_migrations(conn, "api_keys", MIGRATIONS)

    def create_api_key(self, key: ApiKey, *, max_active: int = MAX_ACTIVE_KEYS) -> ApiKey:
        """Raises TooManyApiKeysError when the user already has `max_active` active keys."""
        values = key.model_dump()
        with self._pool.transaction() as conn, conn.cursor() as cur:
            # Held to the end of the transaction: the count below sees every key committed before.
            cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_KEY_CAP_LOCK, key.user_id))
            cur.execute(
                f"INSERT INTO api_keys ({', '.join(_COLUMNS)}) SELECT {', '.join(['%s'] * len(_COLUMNS))}"
                " WHERE (SELECT count(*) FROM api_keys WHERE user_id = %s AND revoked_at IS NULL) < %s"
                " RETURNING id",
                [*(values[column] for column in _COLUMNS), key.user_id, max_active],
            )
            if cur.fetchone() is None:
                raise TooManyApiKeysError()
        return key

    def list_api_keys(self, user_id: str) -> list[ApiKey]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(f"{_SELECT} WHERE user_id = %s ORDER BY created_at DESC, id DESC", (user_id,))
            return [_record(row) for row in cur.fetchall()]

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(f"{_SELECT} WHERE key_hash = %s", (key_hash,))
            row = cur.fetchone()
        return _record(row) if row else None

    def revoke_api_key(self, user_id: str, key_id: str, at: datetime) -> ApiKey:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, %s) WHERE id = %s AND user_id = %s"
                f" RETURNING {', '.join(_COLUMNS)}",
                (at, key_id, user_id),
            )
            row = cur.fetchone()
        if row is None:
            raise ApiKeyNotFoundError(key_id)
        return _record(row)

    def record_api_key_use(
        self, key: ApiKey, prompt_tokens: int, completion_tokens: int, at: datetime
    ) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE api_keys SET requests = requests + 1, prompt_tokens = prompt_tokens + %s,"
                " completion_tokens = completion_tokens + %s, last_used_at = greatest(last_used_at, %s)"
                " WHERE id = %s",
                (prompt_tokens, completion_tokens, at, key.id),
            )
