"""Helpers shared by the retrieval and document indexer tests."""

from __future__ import annotations

import functools

from chatbot.postgres import ConnectionPool
from chatbot.retrieval.embedders import LocalEmbedder


@functools.cache
def shared_embedder() -> LocalEmbedder:
    """One model per test process: loading it costs seconds."""
    return LocalEmbedder()


def table_counts(pool: ConnectionPool) -> tuple[int, int]:
    """(documents, chunks): what 'the store is unchanged' compares."""
    with pool.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks)")
        return cur.fetchone()
