"""The schema: idempotent migrations, the indexes search relies on, and the embedding model pin."""

from __future__ import annotations

import threading

import pytest

from chatbot.errors import ConfigError
from chatbot.postgres import ConnectionPool, create_database
from chatbot.retrieval.schema import MIGRATIONS, migrate, pin_embedding_model
from chatbot.retrieval.store import PgVectorStore

_databases = iter(range(1_000_000))


@pytest.fixture
def pool(postgres_server_url):
    pool = ConnectionPool(create_database(postgres_server_url, f"schema_{next(_databases)}"))
    yield pool
    pool.close()


def test_migrating_twice_applies_each_migration_once(pool):
    with pool.connection() as conn:
        assert migrate(conn) == [migration.version for migration in MIGRATIONS]
        assert migrate(conn) == []
        with conn.cursor() as cur:
            cur.execute("SELECT version FROM retrieval_migrations ORDER BY version")
            assert [row[0] for row in cur.fetchall()] == [migration.version for migration in MIGRATIONS]


def test_processes_starting_together_migrate_once_between_them(pool):
    applied, errors = [], []

    def start():
        try:
            with pool.connection() as conn:
                applied.append(migrate(conn))
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(applied, key=len) == [[], [], [], [migration.version for migration in MIGRATIONS]]


def test_chunks_have_an_hnsw_cosine_index_a_gin_full_text_index_and_a_generated_tsvector(pool):
    with pool.connection() as conn:
        migrate(conn)
        with conn.cursor() as cur:
            cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'chunks'")
            indexes = dict(cur.fetchall())
            cur.execute(
                "SELECT generation_expression FROM information_schema.columns "
                "WHERE table_name = 'chunks' AND column_name = 'tsv'"
            )
            generated = cur.fetchone()[0]
            cur.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'"
            )
            embedding_type = cur.fetchone()[0]
    assert "USING hnsw (embedding vector_cosine_ops)" in indexes["chunks_embedding"]
    assert "USING gin (tsv)" in indexes["chunks_tsv"]
    assert "to_tsvector('english'::regconfig, text)" in generated
    assert embedding_type == "vector(384)"


def test_the_first_embedding_model_is_pinned_and_a_different_one_is_refused(pool):
    with pool.connection() as conn:
        migrate(conn)
        pin_embedding_model(conn, "sentence-transformers/all-MiniLM-L6-v2", 384)
        pin_embedding_model(conn, "sentence-transformers/all-MiniLM-L6-v2", 384)  # same again: fine
        with pytest.raises(
            ConfigError, match="indexed with 'sentence-transformers/all-MiniLM-L6-v2'.*re-upload"
        ):
            pin_embedding_model(conn, "BAAI/bge-small-en-v1.5", 384)


def test_an_embedding_model_of_another_size_is_refused(pool):
    with pytest.raises(ConfigError, match="768-dimension vectors; the store holds 384"):
        PgVectorStore.open(pool.url, embedding_model="BAAI/bge-base-en-v1.5", dimension=768)
