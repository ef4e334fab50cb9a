"""Idempotent, ordered schema migrations for PostgreSQL.

Each component (chat history, documents...) owns a list of SQL steps that only ever grows.
`apply_migrations` runs the steps a database has not seen yet, in one transaction, under an
advisory lock, so several processes starting at once apply each step exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg2.extensions import connection as Connection  # noqa: N812 (the type, named as a type)

#: One lock for every component: creating the bookkeeping table itself must not race.
_LOCK_KEY = 0x43484154  # "CHAT"


def apply_migrations(conn: Connection, component: str, steps: Sequence[str]) -> int:
    """Run the steps of `component` not applied yet; return how many ran."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " component text NOT NULL, step integer NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, step))"
        )
        cur.execute("SELECT coalesce(max(step), 0) FROM schema_migrations WHERE component = %s", (component,))
        (done,) = cur.fetchone() or (0,)  # an aggregate always answers one row
        for number, statement in enumerate(steps[done:], start=done + 1):
            cur.execute(statement)
            cur.execute(
                "INSERT INTO schema_migrations (component, step) VALUES (%s, %s)", (component, number)
            )
    conn.commit()
    return len(steps) - done
