"""The Postgres HistoryStore: the local stack's store (embedded Postgres), or any DATABASE_URL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from psycopg2.errors import UniqueViolation
from psycopg2.extras import Json, execute_values

from chatbot.api.records import Lane, Message, Session, SessionPage, Vote
from chatbot.chat.cells import (
    ArenaCounts,
    CounterKey,
    counted_increments,
    encode_key,
    merge,
    parse_counters,
    tally,
    voided_increments,
)
from chatbot.chat.cursor import InvalidCursorError, decode_cursor, encode_cursor
from chatbot.chat.postgres_api_keys import PostgresApiKeys
from chatbot.chat.postgres_everyday import PostgresEveryday
from chatbot.chat.postgres_fits import PostgresArenaFits
from chatbot.chat.store import SessionNotFoundError, VoteExistsError, stop_applies
from chatbot.chat.vote_rules import cast_time_reason, daily_key, over_limit_reason
from chatbot.migrations import apply_migrations
from chatbot.postgres import ConnectionPool

MIGRATIONS = [
    """
    CREATE TABLE chat_sessions (
        id text PRIMARY KEY,
        user_id text NOT NULL,
        title text NOT NULL,
        kind text NOT NULL,
        lanes jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        message_count integer NOT NULL DEFAULT 0,
        -- lane id (or '*' for every lane) -> when a stop was requested
        stop_requests jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX chat_sessions_newest_first ON chat_sessions (user_id, updated_at DESC, id DESC);
    CREATE TABLE chat_messages (
        session_id text NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        body jsonb NOT NULL,
        PRIMARY KEY (session_id, seq)
    );
    CREATE TABLE chat_votes (
        session_id text NOT NULL,
        round integer NOT NULL,
        anonymous boolean NOT NULL,
        created_at timestamptz NOT NULL,
        body jsonb NOT NULL,
        PRIMARY KEY (session_id, round)
    );
    """,
    # The arena's counters (chatbot/chat/cells.py), kept at vote time; filled from the stored
    # votes once, on upgrade (PostgresHistoryStore.backfill_arena_counts).
    """
    CREATE TABLE arena_counters (key text PRIMARY KEY, n bigint NOT NULL);
    CREATE TABLE arena_daily_votes (
        user_id text NOT NULL,
        models text NOT NULL,
        day date NOT NULL,
        n integer NOT NULL,
        PRIMARY KEY (user_id, models, day)
    );
    """,
    # The preset a conversation was started with (issue 21): null in the rows of earlier releases.
    "ALTER TABLE chat_sessions ADD COLUMN IF NOT EXISTS preset text",
]
#: The marker of the one-time backfill of arena_counters from chat_votes.
_BACKFILL = ("chat_arena_backfill", 1)

_SESSION_COLUMNS = "id, user_id, title, kind, lanes, created_at, updated_at, message_count, preset"


def _session(row: tuple) -> Session:
    id_, user_id, title, kind, lanes, created_at, updated_at, count, preset = row
    return Session(
        id=id_,
        user_id=user_id,
        title=title,
        kind=kind,
        lanes=[Lane.model_validate(lane) for lane in lanes],
        created_at=created_at,
        updated_at=updated_at,
        message_count=count,
        preset=preset,
    )


def _encode_cursor(session: Session) -> str:
    return encode_cursor([session.updated_at.isoformat(), session.id])


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    match decode_cursor(cursor):
        case [str(updated_at), str(session_id)] if "\x00" not in session_id:  # text cannot hold NUL
            try:
                return datetime.fromisoformat(updated_at), session_id
            except ValueError:
                pass
    raise InvalidCursorError()


class PostgresHistoryStore(PostgresApiKeys, PostgresEveryday, PostgresArenaFits):
    def __init__(self, pool: ConnectionPool):
        self._pool = pool
        with pool.connection() as conn:
            apply_migrations(conn, "chat_history", MIGRATIONS)
        self._migrate_api_keys()
        self._migrate_everyday()  # feedback, share links, search (issue 23)
        self._migrate_arena_fits()
        self.backfill_arena_counts()

    def create_session(self, session: Session) -> Session:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO chat_sessions (id, user_id, title, kind, lanes, created_at, updated_at, preset)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    session.id,
                    session.user_id,
                    session.title,
                    session.kind,
                    Json([lane.model_dump() for lane in session.lanes]),
                    session.created_at,
                    session.updated_at,
                    session.preset,
                ),
            )
        return session

    def get_session(self, user_id: str, session_id: str) -> Session:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT {_SESSION_COLUMNS} FROM chat_sessions WHERE id = %s AND user_id = %s",
                (session_id, user_id),
            )
            row = cur.fetchone()
        if row is None:
            raise SessionNotFoundError(session_id)
        return _session(row)

    def list_sessions(self, user_id: str, *, limit: int = 20, cursor: str | None = None) -> SessionPage:
        after = _decode_cursor(cursor) if cursor else None
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT {_SESSION_COLUMNS} FROM chat_sessions WHERE user_id = %s"
                " AND (%s::timestamptz IS NULL OR (updated_at, id) < (%s::timestamptz, %s))"
                " ORDER BY updated_at DESC, id DESC LIMIT %s",
                (user_id, after and after[0], after and after[0], after and after[1], limit + 1),
            )
            sessions = [_session(row) for row in cur.fetchall()]
        more = len(sessions) > limit
        sessions = sessions[:limit]
        return SessionPage(sessions=sessions, cursor=_encode_cursor(sessions[-1]) if more else None)

    def rename_session(self, user_id: str, session_id: str, title: str) -> Session:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                f"UPDATE chat_sessions SET title = %s WHERE id = %s AND user_id = %s RETURNING {_SESSION_COLUMNS}",
                (title, session_id, user_id),
            )
            row = cur.fetchone()
        if row is None:
            raise SessionNotFoundError(session_id)
        return _session(row)

    def delete_session(self, user_id: str, session_id: str) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM chat_sessions WHERE id = %s AND user_id = %s", (session_id, user_id))
            if cur.rowcount == 0:
                raise SessionNotFoundError(session_id)

    def delete_all_sessions(self, user_id: str) -> int:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM chat_sessions WHERE user_id = %s", (user_id,))
            return cur.rowcount

    def append_message(self, user_id: str, session_id: str, message: Message) -> Message:
        # The row lock taken by UPDATE serialises concurrent writers: each gets the next seq.
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE chat_sessions SET message_count = message_count + 1, updated_at = greatest(updated_at, %s)"
                " WHERE id = %s AND user_id = %s RETURNING message_count",
                (message.created_at, session_id, user_id),
            )
            row = cur.fetchone()
            if row is None:
                raise SessionNotFoundError(session_id)
            stored = message.model_copy(update={"seq": row[0]})
            cur.execute(
                "INSERT INTO chat_messages (session_id, seq, body) VALUES (%s, %s, %s)",
                (session_id, stored.seq, Json(stored.model_dump(mode="json"))),
            )
        return stored

    def list_messages(self, user_id: str, session_id: str) -> list[Message]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT m.body FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id"
                " WHERE s.id = %s AND s.user_id = %s ORDER BY m.seq",
                (session_id, user_id),
            )
            rows = cur.fetchall()
            if not rows:
                self.get_session(user_id, session_id)  # raises for someone else's session
        return [Message.model_validate(row[0]) for row in rows]

    def request_stop(self, user_id: str, session_id: str, lane: str | None, at: datetime) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE chat_sessions SET stop_requests = stop_requests || jsonb_build_object(%s::text, %s::text)"
                " WHERE id = %s AND user_id = %s",
                (lane or "*", at.isoformat(), session_id, user_id),
            )
            if cur.rowcount == 0:
                raise SessionNotFoundError(session_id)

    def stop_requested(self, user_id: str, session_id: str, lane: str | None, started_at: datetime) -> bool:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT stop_requests FROM chat_sessions WHERE id = %s AND user_id = %s",
                (session_id, user_id),
            )
            row = cur.fetchone()
        return row is not None and stop_applies(row[0], lane, started_at)

    def add_vote(self, vote: Vote, *, max_per_pair_per_day: int | None = None) -> Vote:
        try:
            with self._pool.transaction() as conn, conn.cursor() as cur:
                vote = self._judged(cur, vote, max_per_pair_per_day)
                cur.execute(
                    "INSERT INTO chat_votes (session_id, round, anonymous, created_at, body)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (
                        vote.session_id,
                        vote.round,
                        vote.anonymous,
                        vote.created_at,
                        Json(vote.model_dump(mode="json")),
                    ),
                )
                if vote.anonymous:
                    add_counters(cur, _increments(vote))
        except UniqueViolation:
            raise VoteExistsError() from None  # the transaction, counters included, rolled back
        return vote

    @staticmethod
    def _judged(cur: Any, vote: Vote, limit: int | None) -> Vote:
        """The vote with its reason not to count, the daily limit counted atomically here."""
        if not vote.anonymous:
            return vote
        reason = cast_time_reason(vote)
        if reason is None and limit is not None:
            cur.execute(
                "INSERT INTO arena_daily_votes (user_id, models, day, n) VALUES (%s, %s, %s, 1)"
                " ON CONFLICT (user_id, models, day) DO UPDATE SET n = arena_daily_votes.n + 1 RETURNING n",
                daily_key(vote),
            )
            if cur.fetchone()[0] > limit:
                reason = over_limit_reason(limit)
        return vote.model_copy(update={"void_reason": reason})

    def add_votes(self, votes: Sequence[Vote]) -> int:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            added = execute_values(
                cur,
                "INSERT INTO chat_votes (session_id, round, anonymous, created_at, body) VALUES %s"
                " ON CONFLICT (session_id, round) DO NOTHING RETURNING session_id, round",
                [
                    (
                        vote.session_id,
                        vote.round,
                        vote.anonymous,
                        vote.created_at,
                        Json(vote.model_dump(mode="json")),
                    )
                    for vote in votes
                ],
                page_size=1000,
                fetch=True,
            )
            new = {tuple(row) for row in added}
            # Imported votes: counted as the rules judge them now (an import's are voided).
            add_counters(
                cur, tally([vote for vote in votes if (vote.session_id, vote.round) in new]).counters
            )
        return len(added)

    def arena_counts(self) -> ArenaCounts:
        with self._pool.connection() as conn, conn.cursor() as cur:
            # Two strings, not a row per counter: a million votes leave half a million
            # counters, and a Python tuple per row cost more than the fit. The aggregates read
            # the rows in the same order.
            cur.execute("SELECT string_agg(key, E'\\n'), string_agg(n::text, ' ') FROM arena_counters")
            keys, numbers = cur.fetchone() or (None, None)  # an aggregate's one row
            if not keys:
                return merge([])
            return parse_counters(keys, np.fromstring(numbers, dtype=np.int64, sep=" "))

    def backfill_arena_counts(self) -> int:
        """Once, on upgrade: the counters of the votes stored before they were kept. The table
        of votes is locked meanwhile, so a vote cast during the backfill is counted once."""
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM schema_migrations WHERE component = %s AND step = %s", _BACKFILL)
            if cur.fetchone():
                return 0  # the usual case: done once, long ago; no lock taken
            cur.execute("LOCK TABLE chat_votes IN SHARE ROW EXCLUSIVE MODE")
            cur.execute("SELECT 1 FROM schema_migrations WHERE component = %s AND step = %s", _BACKFILL)
            if cur.fetchone():
                return 0
            cur.execute("SELECT body FROM chat_votes WHERE anonymous")
            votes = [Vote.model_validate(row[0]) for row in cur.fetchall()]
            add_counters(cur, tally(votes).counters)
            days: Counter[tuple[str, str, str]] = Counter(
                daily_key(v) for v in votes if cast_time_reason(v) is None
            )
            if days:
                execute_values(
                    cur,
                    "INSERT INTO arena_daily_votes (user_id, models, day, n) VALUES %s",
                    [(*key, n) for key, n in days.items()],
                )
            cur.execute("INSERT INTO schema_migrations (component, step) VALUES (%s, %s)", _BACKFILL)
        return len(votes)

    def list_votes(self, *, anonymous_only: bool = True) -> list[Vote]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT body FROM chat_votes WHERE anonymous OR NOT %s ORDER BY created_at", (anonymous_only,)
            )
            return [Vote.model_validate(row[0]) for row in cur.fetchall()]

    def session_votes(self, session_id: str) -> list[Vote]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT body FROM chat_votes WHERE session_id = %s ORDER BY round", (session_id,))
            return [Vote.model_validate(row[0]) for row in cur.fetchall()]


def _increments(vote: Vote) -> Counter[CounterKey]:
    return voided_increments(vote.void_reason) if vote.void_reason else counted_increments(vote)


def add_counters(cur: Any, increments: Counter[CounterKey]) -> None:
    """One statement; keys in a fixed order, so concurrent votes never deadlock on them."""
    rows = sorted((encode_key(key), n) for key, n in increments.items() if n)
    if rows:
        execute_values(
            cur,
            "INSERT INTO arena_counters (key, n) VALUES %s"
            " ON CONFLICT (key) DO UPDATE SET n = arena_counters.n + EXCLUDED.n",
            rows,
        )
