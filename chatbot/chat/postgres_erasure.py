"""Deleting one user's data from the Postgres history store's tables and the quota ledger kept
in the same database (chatbot/chat/erasure.py says what goes and what stays).

One transaction: a user's data goes all at once or not at all, and every statement matches the
user id exactly. The quota tables exist once the quota store has been opened on the database;
where they do not, there is nothing of the user's in them.
"""

from __future__ import annotations

from typing import Any

from chatbot.api.erasure import ErasureReport
from chatbot.chat.erasure import checked_user_id, opaque_voter_id
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.policy.quotas import subject_of_key, subject_of_user
from chatbot.postgres import ConnectionPool


class PostgresErasure:
    def __init__(self, pool: ConnectionPool):
        self._pool = pool

    @classmethod
    def of_store(cls, store: PostgresHistoryStore) -> PostgresErasure:
        return cls(store._pool)  # the store's own pool: the same database and its tables

    def erase_user(self, user_id: str) -> ErasureReport:
        checked_user_id(user_id)
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM api_keys WHERE user_id = %s", (user_id,))
            key_ids = [row[0] for row in cur.fetchall()]
            counts = {
                "shares": _deleted(cur, "DELETE FROM chat_shares WHERE user_id = %s", user_id),
                "feedback": _deleted(cur, "DELETE FROM chat_feedback WHERE user_id = %s", user_id),
                "marks": _deleted(cur, "DELETE FROM chat_session_marks WHERE user_id = %s", user_id),
                "messages": _deleted(
                    cur,
                    "DELETE FROM chat_messages WHERE session_id IN"
                    " (SELECT id FROM chat_sessions WHERE user_id = %s)",
                    user_id,
                ),
                "sessions": _deleted(cur, "DELETE FROM chat_sessions WHERE user_id = %s", user_id),
                "api_keys": _deleted(cur, "DELETE FROM api_keys WHERE user_id = %s", user_id),
                "votes_anonymised": self._anonymise_votes(cur, user_id),
            }
            counts |= self._erase_usage(cur, user_id, key_ids)
        return ErasureReport(**counts)

    @staticmethod
    def _anonymise_votes(cur: Any, user_id: str) -> int:
        """The votes stay, under one opaque id: the counters (and so the leaderboard) are
        untouched, and the daily limit's counts move with them, so a backfill that judges the
        votes again finds the same."""
        voter = opaque_voter_id()
        cur.execute(
            "UPDATE chat_votes SET body = jsonb_set(body, '{user_id}', to_jsonb(%s::text))"
            " WHERE body->>'user_id' = %s",
            (voter, user_id),
        )
        anonymised = cur.rowcount
        cur.execute("UPDATE arena_daily_votes SET user_id = %s WHERE user_id = %s", (voter, user_id))
        return anonymised

    @staticmethod
    def _erase_usage(cur: Any, user_id: str, key_ids: list[str]) -> dict[str, int]:
        if _exists(cur, "stream_leases"):  # leases of streams that ended or died: not counted
            cur.execute("DELETE FROM stream_leases WHERE user_id = %s", (user_id,))
        if not _exists(cur, "quota_usage"):
            return {}  # no quota store has opened this database: no usage to delete
        subjects = [subject_of_user(user_id), *(subject_of_key(key) for key in key_ids)]
        return {
            "usage_rows": _deleted(cur, "DELETE FROM quota_usage WHERE user_id = %s", user_id),
            "holds": _deleted(cur, "DELETE FROM quota_holds WHERE user_id = %s", user_id),
            "counters": _deleted(cur, "DELETE FROM quota_counters WHERE subject = ANY(%s)", subjects),
            "limits": _deleted(cur, "DELETE FROM quota_limits WHERE scope = ANY(%s)", subjects),
        }


def _exists(cur: Any, table: str) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    row = cur.fetchone()
    return bool(row and row[0])


def _deleted(cur: Any, statement: str, value: object) -> int:
    cur.execute(statement, (value,))
    return int(cur.rowcount)
