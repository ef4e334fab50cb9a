"""Conversations exported as JSON and Markdown, and imported again: idempotent, and each message
keeps its status and figures."""

from __future__ import annotations

import pytest

from chatbot.api.records import Message, Session
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.chat.sessions import SessionQueries
from chatbot.chat.transfer import ConversationsExport, ConversationTransfer, to_markdown
from chatbot.errors import InvalidRequestError
from chatbot.models.events import Metrics, Source, Usage


@pytest.fixture
def transfer(postgres_store: PostgresHistoryStore) -> ConversationTransfer:
    return ConversationTransfer(postgres_store, SessionQueries(postgres_store))


def conversation(store: PostgresHistoryStore, user: str, title: str) -> Session:
    session = store.create_session(Session(user_id=user, title=title))
    store.append_message(user, session.id, Message(role="user", content="Tell me a story."))
    store.append_message(
        user,
        session.id,
        Message(
            role="assistant",
            content="Once upon a",
            status="stopped",
            model="smollm2-135m",
            parameters={"max_new_tokens": 600, "seed": 1},
            usage=Usage(completion_tokens=4),
            metrics=Metrics(ttft_ms=150.0, tokens_per_s=40.0, total_ms=260.0),
            sources=[Source(document_id="d", document_name="tales.md", chunk_index=2, score=0.7)],
            reply_to=1,
        ),
    )
    store.append_message(user, session.id, Message(role="user", content="Go on."))
    store.append_message(
        user,
        session.id,
        Message(role="assistant", content="", status="error", error="The model failed.", reply_to=3),
    )
    return session


def test_an_import_restores_every_message_with_its_status_and_figures(transfer, postgres_store):
    conversation(postgres_store, "alice", "A story")
    exported = transfer.export("alice")
    document = ConversationsExport.model_validate_json(exported.model_dump_json())  # as a file would

    result = transfer.import_("bob", document)
    assert (result.imported, result.skipped) == (1, 0)
    (copy,) = postgres_store.list_sessions("bob").sessions
    original = exported.conversations[0].messages
    restored = postgres_store.list_messages("bob", copy.id)
    keep = (
        "seq",
        "role",
        "content",
        "status",
        "model",
        "parameters",
        "usage",
        "metrics",
        "sources",
        "error",
        "reply_to",
    )
    assert [m.model_dump(include=set(keep)) for m in restored] == [
        m.model_dump(include=set(keep)) for m in original
    ]
    assert copy.title == "A story"


def test_importing_the_same_file_twice_adds_it_once(transfer, postgres_store):
    conversation(postgres_store, "alice", "Once")
    document = transfer.export("alice")
    assert transfer.import_("bob", document).imported == 1
    assert transfer.import_("bob", document).model_dump() == {"imported": 0, "skipped": 1}
    assert transfer.import_("alice", document).skipped == 1, "alice still has the original"
    assert len(postgres_store.list_sessions("bob").sessions) == 1


def test_one_or_all_conversations_export_as_markdown(transfer, postgres_store):
    first = conversation(postgres_store, "alice", "First")
    conversation(postgres_store, "alice", "Second")
    assert [c.session.title for c in transfer.export("alice", first.id).conversations] == ["First"]
    markdown = to_markdown(transfer.export("alice"))
    assert markdown.count("\n---\n") == 1
    assert "# First" in markdown
    assert "# Second" in markdown
    assert "## You\n\nTell me a story." in markdown
    assert "## smollm2-135m · stopped · TTFT 0.15 s · 4 tokens" in markdown
    assert "> Error: The model failed." in markdown


def test_a_file_with_renumbered_messages_is_refused_before_anything_is_saved(transfer, postgres_store):
    conversation(postgres_store, "alice", "Mangled")
    document = transfer.export("alice")
    mangled = document.conversations[0].model_copy(
        update={
            "messages": [m.model_copy(update={"seq": m.seq + 10}) for m in document.conversations[0].messages]
        }
    )
    with pytest.raises(InvalidRequestError, match="numbered"):
        transfer.import_("bob", document.model_copy(update={"conversations": [mangled]}))
    assert postgres_store.list_sessions("bob").sessions == []
