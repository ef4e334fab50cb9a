"""Deleting the documents a user uploaded (issue 21, "Leaving"): rows, chunks with their vectors,
and the objects in the documents bucket; never anyone else's, even whose name starts the same."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from chatbot.chat.attachments import Blobs
from chatbot.postgres import create_database
from chatbot.retrieval.chunking import TextChunk
from chatbot.retrieval.document_erasure import erase_documents
from chatbot.retrieval.retriever import PRIVATE
from chatbot.retrieval.store import NewDocument, PgVectorStore

_databases = iter(range(1_000_000))


@pytest.fixture
def store(postgres_server_url: str) -> Iterator[PgVectorStore]:
    url = create_database(postgres_server_url, f"document_erasure_{next(_databases)}")
    store = PgVectorStore.open(url, embedding_model="test-model", dimension=384)
    yield store
    store.close()


def add(store: PgVectorStore, blobs: Blobs, user: str, source: str, workspace: str = PRIVATE) -> None:
    """A document of two chunks, stored as the indexer stores one read from its object."""
    folder = f"private/{user}" if workspace == PRIVATE else f"shared/{workspace}"
    blobs.put(f"{folder}/{source}", b"text", "text/plain")
    chunks = [TextChunk(index=i, start_offset=i * 10, text=f"{user} text {i}") for i in range(2)]
    store.replace_document(
        NewDocument(
            workspace=workspace,
            owner_key=user if workspace == PRIVATE else "",
            uploaded_by=user,
            source=source,
            name=source,
            content_type="text/plain",
            size_bytes=4,
            sha256="0" * 64,
            chunks=chunks,
            vectors=np.ones((2, 384), dtype=np.float32),
        )
    )


def names(store: PgVectorStore, user: str) -> list[str]:
    return sorted(document.name for document in store.list_documents(user, [PRIVATE, "team"]))


def test_a_users_documents_chunks_and_objects_go_and_no_one_elses(store: PgVectorStore, blobs: Blobs):
    for user in ("al", "alice"):
        add(store, blobs, user, f"{user}-notes.txt")
        add(store, blobs, user, f"{user}-plan.txt", workspace="team")
    blobs.put("private/al/never-indexed.pdf", b"%PDF", "application/pdf")

    report = erase_documents(store, "al", blobs)

    assert (report.documents, report.chunks, report.files) == (2, 4, 3)
    assert names(store, "alice") == ["alice-notes.txt", "alice-plan.txt"]
    assert names(store, "al") == ["alice-plan.txt"]  # the shared one alice uploaded stays
    assert blobs.get("private/alice/alice-notes.txt") == b"text"
    assert blobs.get("shared/team/alice-plan.txt") == b"text"
    assert blobs.get("private/al/al-notes.txt") is None
    assert blobs.get("shared/team/al-plan.txt") is None
    with store.pool.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM chunks WHERE text LIKE 'al %%'")
        assert cur.fetchone() == (0,)


def test_erasing_documents_again_finds_nothing(store: PgVectorStore, blobs: Blobs):
    add(store, blobs, "al", "notes.txt")
    erase_documents(store, "al", blobs)

    assert erase_documents(store, "al", blobs).total() == 0
