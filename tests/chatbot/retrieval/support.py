"""Helpers shared by the retrieval and document indexer tests."""

from __future__ import annotations

import functools

from chatbot.models.spec import ModelSpec
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


def endpoint_spec(name: str, task: str) -> ModelSpec:
    """A ModelSpec for an endpoint of `endpoint_server` (Text Embeddings Inference's format)."""
    return ModelSpec.model_validate(
        {
            "name": name,
            "model_id": "sentence-transformers/all-MiniLM-L6-v2",
            "endpoint_name": name,
            "task": task,
            "context_window": 512,
            "max_new_tokens_limit": 1,
            "default_parameters": {"max_new_tokens": 1},
            "deployment": {"kind": "container", "image": "tei", "hf_model_id": "x"},
        }
    )
