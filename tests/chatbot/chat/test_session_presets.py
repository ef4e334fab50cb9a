"""A conversation keeps the name of the preset it was started with (issue 21), on both stores;
conversations an earlier release saved (no preset anywhere) read as having none."""

from __future__ import annotations

import itertools
from contextlib import closing
from datetime import UTC, datetime

import psycopg2
from psycopg2.extras import Json

from chatbot.api.records import Session
from chatbot.chat.dynamodb_store import DynamoDBHistoryStore
from chatbot.chat.postgres_store import MIGRATIONS, PostgresHistoryStore
from chatbot.chat.store import HistoryStore
from chatbot.migrations import apply_migrations
from chatbot.postgres import ConnectionPool, create_database

_databases = itertools.count()


def test_a_session_is_saved_and_listed_with_its_preset(store: HistoryStore):
    with_preset = store.create_session(Session(user_id="ana", title="Tutoring", preset="Tutor"))
    without = store.create_session(Session(user_id="ana", title="Plain"))
    assert store.get_session("ana", with_preset.id).preset == "Tutor"
    assert store.get_session("ana", without.id).preset is None
    listed = {s.title: s.preset for s in store.list_sessions("ana").sessions}
    assert listed == {"Tutoring": "Tutor", "Plain": None}
    assert store.rename_session("ana", with_preset.id, "Renamed").preset == "Tutor"


def test_a_postgres_session_the_previous_release_wrote_reads_with_no_preset_after_the_upgrade(
    postgres_server_url: str,
):
    url = create_database(postgres_server_url, f"session_presets_{next(_databases)}")
    with closing(psycopg2.connect(url)) as conn:
        apply_migrations(conn, "chat_history", MIGRATIONS[:-1])  # the previous release's schema
        with conn.cursor() as cur:
            now = datetime(2026, 12, 1, tzinfo=UTC)
            cur.execute(
                "INSERT INTO chat_sessions (id, user_id, title, kind, lanes, created_at, updated_at)"
                " VALUES ('old', 'ana', 'Before presets', 'chat', %s, %s, %s)",
                (Json([]), now, now),
            )
        conn.commit()
    pool = ConnectionPool(url, max_connections=4)
    try:
        session = PostgresHistoryStore(pool).get_session("ana", "old")  # migrates on opening
        assert (session.title, session.preset) == ("Before presets", None)
    finally:
        pool.close()


def test_a_dynamodb_session_item_the_previous_release_wrote_reads_with_no_preset(
    dynamodb_store: DynamoDBHistoryStore,
):
    dynamodb_store._table.put_item(  # as the previous release's create_session wrote it
        Item={
            "pk": "USER#ana",
            "sk": "SESSION#old",
            "gsi1pk": "USER#ana",
            "gsi1sk": "2026-12-01T00:00:00+00:00#old",
            "id": "old",
            "user_id": "ana",
            "title": "Before presets",
            "kind": "chat",
            "lanes": "[]",
            "created_at": "2026-12-01T00:00:00+00:00",
            "updated_at": "2026-12-01T00:00:00+00:00",
            "message_count": 0,
            "stop_requests": {},
        }
    )
    session = dynamodb_store.get_session("ana", "old")
    assert (session.title, session.preset) == ("Before presets", None)
