"""Feedback in Postgres (mixed into PostgresHistoryStore through postgres_everyday.py): one row
per thumb, keyed by answer and user, and its counter, written in one transaction."""

from __future__ import annotations

from psycopg2.extras import Json

from chatbot.chat.feedback import Feedback, FeedbackCounts, FeedbackExistsError, counter_key, counts_of
from chatbot.postgres import ConnectionPool

MIGRATIONS = [
    """
    CREATE TABLE chat_feedback (
        session_id text NOT NULL,
        seq integer NOT NULL,
        user_id text NOT NULL,
        created_at timestamptz NOT NULL,
        body jsonb NOT NULL,
        PRIMARY KEY (session_id, seq, user_id)
    );
    CREATE TABLE chat_feedback_counters (key text PRIMARY KEY, n bigint NOT NULL);
    """,
]


class PostgresFeedback:
    _pool: ConnectionPool  # provided by PostgresHistoryStore

    def add_feedback(self, feedback: Feedback) -> Feedback:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO chat_feedback (session_id, seq, user_id, created_at, body)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    feedback.session_id,
                    feedback.seq,
                    feedback.user_id,
                    feedback.created_at,
                    Json(feedback.model_dump(mode="json")),
                ),
            )
            if cur.rowcount == 0:
                raise FeedbackExistsError()
            cur.execute(
                "INSERT INTO chat_feedback_counters (key, n) VALUES (%s, 1)"
                " ON CONFLICT (key) DO UPDATE SET n = chat_feedback_counters.n + 1",
                (counter_key(feedback),),
            )
        return feedback

    def session_feedback(self, user_id: str, session_id: str) -> list[Feedback]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT body FROM chat_feedback WHERE session_id = %s AND user_id = %s ORDER BY seq",
                (session_id, user_id),
            )
            return [Feedback.model_validate(row[0]) for row in cur.fetchall()]

    def list_feedback(self) -> list[Feedback]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT body FROM chat_feedback ORDER BY created_at, session_id, seq")
            return [Feedback.model_validate(row[0]) for row in cur.fetchall()]

    def feedback_counts(self) -> FeedbackCounts:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT key, n FROM chat_feedback_counters")
            return counts_of(cur.fetchall())
