"""Stream leases in Postgres: one row per user, its leases a JSON object of id -> expiry (epoch
seconds). Taking leases is one statement: the row's lock (ON CONFLICT DO UPDATE) orders
concurrent takers, and its WHERE counts the unexpired leases under that lock."""

from __future__ import annotations

import json
from collections.abc import Callable

from chatbot.migrations import apply_migrations
from chatbot.policy.stream_leases import StreamLeases
from chatbot.postgres import ConnectionPool

MIGRATIONS = [
    "CREATE TABLE IF NOT EXISTS stream_leases ("
    " user_id text PRIMARY KEY, leases jsonb NOT NULL DEFAULT '{}'::jsonb)",
]

_UNEXPIRED = "FROM jsonb_each(held.leases) WHERE (value #>> '{}')::float8 > %(now)s"

_TAKE = f"""
INSERT INTO stream_leases AS held (user_id, leases) VALUES (%(user)s, %(new)s)
ON CONFLICT (user_id) DO UPDATE
SET leases = (SELECT coalesce(jsonb_object_agg(key, value), '{{}}'::jsonb) {_UNEXPIRED}) || %(new)s
WHERE (SELECT count(*) {_UNEXPIRED}) + %(count)s <= %(cap)s
RETURNING user_id
"""

_RENEW = """
UPDATE stream_leases AS held
SET leases = held.leases || (
    SELECT coalesce(jsonb_object_agg(key, to_jsonb(%(expires_at)s::float8)), '{}'::jsonb)
    FROM jsonb_each(held.leases) WHERE key = ANY(%(ids)s)
)
WHERE user_id = %(user)s
"""


class PostgresStreamLeases(StreamLeases):
    def __init__(
        self,
        pool: ConnectionPool,
        cap: int,
        *,
        ttl_s: float = 120,
        clock: Callable[[], float] | None = None,
        renew_every_s: float | None = None,
    ):
        super().__init__(cap, ttl_s=ttl_s, renew_every_s=renew_every_s, **({"clock": clock} if clock else {}))
        self._pool = pool
        with pool.connection() as conn:
            apply_migrations(conn, "stream_leases", MIGRATIONS)

    def _take(self, user_id: str, ids: tuple[str, ...], *, now: float, expires_at: float) -> bool:
        new = json.dumps(dict.fromkeys(ids, expires_at))
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(_TAKE, {"user": user_id, "new": new, "now": now, "count": len(ids), "cap": self.cap})
            return cur.fetchone() is not None

    def _renew(self, user_id: str, ids: tuple[str, ...], *, expires_at: float) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(_RENEW, {"user": user_id, "ids": list(ids), "expires_at": expires_at})

    def _give_back(self, user_id: str, ids: tuple[str, ...]) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE stream_leases SET leases = leases - %(ids)s::text[] WHERE user_id = %(user)s",
                {"user": user_id, "ids": list(ids)},
            )
