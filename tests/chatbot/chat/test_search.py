"""History search, pins and folders (issue 23), against both real stores (the `store` fixture):
every word in a title or one message, only the user's own conversations, newest first; marks
that only the owner sets and that go with a deleted conversation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatbot.api.everyday import MarkRequest
from chatbot.api.records import Message, Session, utc_now
from chatbot.chat.search import clean_mark, clean_query, snippet
from chatbot.chat.store import HistoryStore, SessionNotFoundError
from chatbot.errors import InvalidRequestError


def conversation(store: HistoryStore, user: str, title: str, *texts: str, age_min: int = 0) -> str:
    when = utc_now() - timedelta(minutes=age_min)
    session = Session(user_id=user, title=title, created_at=when, updated_at=when)
    store.create_session(session)
    for index, text in enumerate(texts):
        role = "user" if index % 2 == 0 else "assistant"
        store.append_message(user, session.id, Message(role=role, content=text, created_at=when))
    return session.id


def found(store: HistoryStore, user: str, query: str, limit: int = 20) -> list[str]:
    return [hit.title for hit in store.search_sessions(user, clean_query(query), limit=limit).hits]


def test_search_finds_every_word_in_a_title_or_a_message_of_the_users_own_conversations(store: HistoryStore):
    conversation(
        store, "alice", "Rivers of Europe", "Which is longest?", "The Volga is the longest.", age_min=3
    )
    conversation(
        store,
        "alice",
        "Cooking",
        "How long to boil an egg?",
        "About nine minutes for a river trout.",
        age_min=2,
    )
    conversation(store, "alice", "Weather", "Will it rain?", "Maybe.", age_min=1)
    conversation(store, "bob", "Bob's rivers", "The Thames is a river.")
    assert found(store, "alice", "Volga") == ["Rivers of Europe"]
    assert found(store, "alice", "volga longest") == ["Rivers of Europe"], "every word, any case"
    assert found(store, "alice", "rivers") == ["Rivers of Europe"], "titles are searched"
    assert found(store, "alice", "river") == ["Cooking"], "whole words: 'river' is not 'rivers'"
    assert found(store, "alice", "Thames") == [], "another user's conversations are never searched"
    assert found(store, "alice", "volga rain") == [], "the words must meet in one title or message"
    hit = store.search_sessions("alice", "Volga", limit=5).hits[0]
    assert "Volga" in hit.snippet


def test_search_lists_newest_first_up_to_the_limit(store: HistoryStore):
    for age in range(5):
        conversation(store, "alice", f"Chat {age}", "tea or coffee", age_min=age)
    assert found(store, "alice", "coffee", limit=3) == ["Chat 0", "Chat 1", "Chat 2"]


def test_a_search_says_what_to_send_when_it_is_empty_or_too_long():
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(InvalidRequestError, match="q:"):
            clean_query(bad)
    assert clean_query("  two   words ") == "two words"


def test_markup_in_a_search_is_only_words(store: HistoryStore):
    conversation(store, "alice", "Code", "print('hello') & <b>bold</b>")
    assert found(store, "alice", "hello") == ["Code"]
    assert found(store, "alice", "' OR 1=1 --") == []
    assert found(store, "alice", "&&& |||") == []


def test_pins_and_folders_are_the_owners_and_go_with_a_deleted_conversation(store: HistoryStore):
    old = conversation(store, "alice", "Old", "a", age_min=5)
    new = conversation(store, "alice", "New", "b", age_min=1)
    filed = conversation(store, "alice", "Filed", "c", age_min=3)
    store.mark_session("alice", old, True, None)
    store.mark_session("alice", filed, False, "Work")
    pinned = store.mark_session("alice", new, True, "Work")
    assert (pinned.pinned, pinned.folder, pinned.title) == (True, "Work", "New")
    assert [(m.title, m.pinned, m.folder) for m in store.list_marks("alice")] == [
        ("Old", True, None),
        ("New", True, "Work"),
        ("Filed", False, "Work"),
    ]
    with pytest.raises(SessionNotFoundError):
        store.mark_session("bob", old, True, None)
    assert store.list_marks("bob") == []
    cleared = store.mark_session("alice", filed, False, None)
    assert (cleared.pinned, cleared.folder) == (False, None)
    store.delete_session("alice", old)
    assert [m.title for m in store.list_marks("alice")] == ["New"]


def test_a_folder_name_is_trimmed_and_an_empty_one_is_none():
    assert clean_mark(MarkRequest(pinned=True, folder="  My   work ")) == (True, "My work")
    assert clean_mark(MarkRequest(folder="   ")) == (False, None)


def test_a_snippet_shows_the_text_around_the_first_word_found():
    text = "word " * 100 + "Volga " + "word " * 100
    piece = snippet(text, ["volga"])
    assert "Volga" in piece
    assert piece.startswith("…")
    assert piece.endswith("…")


def test_dynamodb_searches_the_newest_conversations_and_says_when_it_stopped(dynamodb_store, monkeypatch):
    from chatbot.chat import dynamodb_search

    monkeypatch.setattr(dynamodb_search, "DYNAMODB_SEARCH_SESSIONS", 3)
    for age in range(5):
        conversation(dynamodb_store, "alice", f"Chat {age}", "tea", age_min=age)
    results = dynamodb_store.search_sessions("alice", "tea", limit=20)
    assert [hit.title for hit in results.hits] == ["Chat 0", "Chat 1", "Chat 2"]
    assert not results.complete
    assert "3 most recent" in results.note


def test_postgres_searches_conversations_the_previous_release_wrote(postgres_server_url: str):
    from psycopg2.extras import Json

    from chatbot.chat import postgres_store
    from chatbot.chat.postgres_store import PostgresHistoryStore
    from chatbot.migrations import apply_migrations
    from chatbot.postgres import ConnectionPool, create_database

    pool = ConnectionPool(create_database(postgres_server_url, "search_upgrade"), max_connections=4)
    try:
        with pool.connection() as conn:  # the schema and rows as the release before issue 23 left them
            apply_migrations(conn, "chat_history", postgres_store.MIGRATIONS)
            with conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO chat_sessions (id, user_id, title, kind, created_at, updated_at, message_count)"
                    " VALUES ('old', 'alice', 'Before the upgrade', 'chat', now(), now(), 1)"
                )
                cur.execute(
                    "INSERT INTO chat_messages (session_id, seq, body) VALUES ('old', 1, %s)",
                    (Json({"seq": 1, "role": "user", "content": "Tell me about the Danube."}),),
                )
            conn.commit()
        store = PostgresHistoryStore(pool)
        assert [hit.id for hit in store.search_sessions("alice", "danube", limit=5).hits] == ["old"]
        assert store.mark_session("alice", "old", True, None).pinned
    finally:
        pool.close()
