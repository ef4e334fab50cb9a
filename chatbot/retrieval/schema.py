"""The store's tables, created and upgraded by numbered, idempotent migrations.

`migrate()` may run in every process at start-up, concurrently: an advisory lock lets one
process at a time apply what is missing, each migration in the same transaction as its
entry in `retrieval_migrations`. Add a migration by appending to `MIGRATIONS`; never edit
one that has shipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.errors import ConfigError
from chatbot.postgres import Connection


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


#: Any fixed number: it names the lock that serialises migrations across processes.
_MIGRATION_LOCK = 5_384_001

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "documents and chunks with vector(384) embeddings and a generated tsvector",
        (
            "CREATE EXTENSION IF NOT EXISTS vector",
            """
            CREATE TABLE documents (
                id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
                -- 'private' (visible to owner_id only) or the name of a shared workspace
                workspace text NOT NULL,
                -- the owning user for private documents; '' for shared ones
                owner_id text NOT NULL,
                uploaded_by text NOT NULL,
                -- what makes two uploads "the same document": a file name or an S3 key path
                source text NOT NULL,
                name text NOT NULL,
                content_type text NOT NULL,
                size_bytes bigint NOT NULL,
                sha256 text NOT NULL,
                chunk_count integer NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (workspace, owner_id, source)
            )
            """,
            """
            CREATE TABLE chunks (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
                -- copied from the document so that searches filter without a join
                workspace text NOT NULL,
                owner_id text NOT NULL,
                chunk_index integer NOT NULL,
                start_offset integer NOT NULL,
                text text NOT NULL,
                embedding vector(384) NOT NULL,
                tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
                UNIQUE (document_id, chunk_index)
            )
            """,
            "CREATE INDEX documents_scope ON documents (workspace, owner_id, created_at DESC)",
            "CREATE INDEX chunks_scope ON chunks (workspace, owner_id)",
            "CREATE INDEX chunks_tsv ON chunks USING gin (tsv)",
            "CREATE INDEX chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops)",
            # One row per setting that must not change under an existing index (the embedding model).
            "CREATE TABLE retrieval_settings (key text PRIMARY KEY, value text NOT NULL)",
        ),
    ),
)


def migrate(conn: Connection) -> list[int]:
    """Apply the migrations this database lacks; return their versions. Commits."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        cur.execute(
            """CREATE TABLE IF NOT EXISTS retrieval_migrations (
                   version integer PRIMARY KEY,
                   description text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        cur.execute("SELECT version FROM retrieval_migrations")
        applied_before = {row[0] for row in cur.fetchall()}
        applied_now = []
        for migration in MIGRATIONS:
            if migration.version in applied_before:
                continue
            for statement in migration.statements:
                cur.execute(statement)
            cur.execute(
                "INSERT INTO retrieval_migrations (version, description) VALUES (%s, %s)",
                (migration.version, migration.description),
            )
            applied_now.append(migration.version)
    conn.commit()
    return applied_now


def pin_embedding_model(conn: Connection, name: str, dimension: int) -> None:
    """Record the embedding model on first use; refuse a different one later, because
    vectors from two models are not comparable and search would quietly return nonsense."""
    if dimension != 384:
        raise ConfigError(
            f"The embedding model {name!r} makes {dimension}-dimension vectors; the store holds 384. "
            "Use a 384-dimension model (all-MiniLM-L6-v2 or a compatible endpoint)."
        )
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO retrieval_settings (key, value) VALUES ('embedding_model', %s) "
            "ON CONFLICT (key) DO NOTHING",
            (name,),
        )
        cur.execute("SELECT value FROM retrieval_settings WHERE key = 'embedding_model'")
        row = cur.fetchone()
        assert row is not None  # inserted just above unless already there
        pinned = row[0]
    conn.commit()
    if pinned != name:
        raise ConfigError(
            f"This store was indexed with {pinned!r}, but the configured embedding model is {name!r}. "
            f"Configure {pinned!r} again, or delete and re-upload the documents with the new model."
        )
