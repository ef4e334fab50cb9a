"""One MiniLM model and one database (on the session's embedded PostgreSQL, `postgres_server_url`
in tests/conftest.py) for all retrieval tests; a clean store per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatbot.postgres import create_database
from chatbot.retrieval.embedders import LocalEmbedder
from chatbot.retrieval.service import Retrieval
from tests.chatbot.retrieval.support import shared_embedder


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    return shared_embedder()


@pytest.fixture(scope="session")
def retrieval_session(postgres_server_url: str, embedder: LocalEmbedder) -> Iterator[Retrieval]:
    retrieval = Retrieval.open(create_database(postgres_server_url, "retrieval_tests"), embedder=embedder)
    yield retrieval
    retrieval.close()


@pytest.fixture
def retrieval(retrieval_session: Retrieval) -> Retrieval:
    """The shared store, emptied: each test starts with no documents."""
    with retrieval_session.store.pool.transaction() as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE documents CASCADE")
    return retrieval_session
