"""Documents and their chunks in PostgreSQL with pgvector.

A document is replaced whole: its old chunks are deleted and the new ones inserted in one
transaction, under an advisory lock on (workspace, owner, source). Readers therefore see the
old version or the new one, never a mix, and concurrent uploads of the same source end with
exactly one copy (the last to commit).

A shared document belongs to its uploader: a shared workspace holds one document per source
(one S3 key), and only its uploader, or a caller allowed to replace anyone's (an
administrator), replaces it. Anyone else's upload of the same source is refused with a
`DocumentConflictError`, checked under the same lock as the write.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pgvector.psycopg2 import register_vector
from psycopg2.extras import execute_values

from chatbot.api.documents import DocumentInfo
from chatbot.postgres import ConnectionPool
from chatbot.retrieval.chunking import TextChunk
from chatbot.retrieval.errors import DocumentConflictError, DocumentNotFoundError
from chatbot.retrieval.retriever import PRIVATE, SearchMode
from chatbot.retrieval.schema import migrate, pin_embedding_model


@dataclass(frozen=True)
class NewDocument:
    """Everything stored for one upload, ready to write."""

    workspace: str
    owner_key: str
    uploaded_by: str
    source: str
    name: str
    content_type: str
    size_bytes: int
    sha256: str
    chunks: Sequence[TextChunk]
    vectors: np.ndarray


@dataclass(frozen=True)
class Candidate:
    """One chunk found by the vector search, the full-text search, or both."""

    chunk_id: int
    document_id: str
    document_name: str
    uploaded_by: str
    workspace: str
    chunk_index: int
    start_offset: int
    text: str
    vector_score: float | None
    vector_rank: int | None
    text_score: float | None
    text_rank: int | None


_DOCUMENT_COLUMNS = (
    "id::text, name, workspace, source, content_type, size_bytes, chunk_count, uploaded_by, created_at"
)
# Which chunks a user may read: their own private ones and those of the shared workspaces asked for.
_VISIBLE = (
    "((c.workspace = 'private' AND c.owner_id = %(user)s AND %(private)s) OR c.workspace = ANY(%(shared)s))"
)


# The vector side: nearest chunks by cosine distance (HNSW). relaxed_order may return them
# slightly out of order, so row_number() ranks them again by distance.
_VECTOR_SIDE = (
    """v AS (SELECT id, 1 - distance AS score, row_number() OVER (ORDER BY distance, id) AS rank
             FROM (SELECT c.id, c.embedding <=> %(vector)s AS distance FROM chunks c
                   WHERE """
    + _VISIBLE
    + """ ORDER BY distance LIMIT %(limit)s) AS hits)"""
)
# The full-text side ranks at most `text_scan_limit` matches: a query of only very common words
# can match most chunks, and ts_rank_cd over all of them would cost far more than the vector
# side. Selective queries (the useful ones) are ranked exactly.
_TEXT_SIDE = (
    """t AS (SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rank
             FROM (SELECT m.id, ts_rank_cd(m.tsv, m.query) AS score
                   FROM (SELECT c.id, c.tsv, q.query
                         FROM chunks c, websearch_to_tsquery('english', %(text)s) AS q(query)
                         WHERE c.tsv @@ q.query AND """
    + _VISIBLE
    + """ LIMIT %(text_scan_limit)s) AS m
                   ORDER BY score DESC, m.id LIMIT %(limit)s) AS hits)"""
)
_NO_SIDE = "NULL::float8, NULL::bigint"
_CHUNK_COLUMNS = (
    "c.id, c.document_id::text, d.name, d.uploaded_by, c.workspace, c.chunk_index, c.start_offset, c.text"
)
_CANDIDATES_SQL: dict[str, str] = {
    # Each chunk once, with its rank and score on each side that found it (NULL where none did).
    "hybrid": f"""WITH {_VECTOR_SIDE}, {_TEXT_SIDE}
        SELECT {_CHUNK_COLUMNS}, v.score, v.rank, t.score, t.rank
        FROM v FULL JOIN t ON v.id = t.id
        JOIN chunks c ON c.id = COALESCE(v.id, t.id) JOIN documents d ON d.id = c.document_id""",
    "vector": f"""WITH {_VECTOR_SIDE}
        SELECT {_CHUNK_COLUMNS}, v.score, v.rank, {_NO_SIDE}
        FROM v JOIN chunks c ON c.id = v.id JOIN documents d ON d.id = c.document_id""",
    "text": f"""WITH {_TEXT_SIDE}
        SELECT {_CHUNK_COLUMNS}, {_NO_SIDE}, t.score, t.rank
        FROM t JOIN chunks c ON c.id = t.id JOIN documents d ON d.id = c.document_id""",
}


def migrate_store(url: str, *, embedding_model: str, dimension: int, wake_wait_s: float = 0.0) -> None:
    """Migrate the schema and pin the embedding model: at start-up locally, once per deploy in AWS."""
    migration_pool = ConnectionPool(url, max_connections=1, wake_wait_s=wake_wait_s)
    try:
        with migration_pool.connection() as conn:
            migrate(conn)  # creates the vector extension: register_vector needs it first
            pin_embedding_model(conn, embedding_model, dimension)
    finally:
        migration_pool.close()


class PgVectorStore:
    def __init__(self, pool: ConnectionPool):
        self.pool = pool

    @classmethod
    def open(
        cls,
        url: str,
        *,
        embedding_model: str,
        dimension: int,
        max_connections: int = 8,
        migrate_now: bool = True,
        wake_wait_s: float = 0.0,
    ) -> PgVectorStore:
        """Migrate the schema and check the embedding model against the index (unless
        `migrate_now` is False: the deploy did, and nothing connects until the first query), then
        a pool whose new connections wait up to `wake_wait_s` for a resuming database."""
        if migrate_now:
            migrate_store(url, embedding_model=embedding_model, dimension=dimension, wake_wait_s=wake_wait_s)
        return cls(
            ConnectionPool(
                url, max_connections=max_connections, on_connect=register_vector, wake_wait_s=wake_wait_s
            )
        )

    def close(self) -> None:
        self.pool.close()

    # -- writing -------------------------------------------------------------------------

    def replace_document(
        self, document: NewDocument, *, may_replace_others: bool = False
    ) -> tuple[DocumentInfo, bool]:
        """Store the document, replacing any earlier version of the same source: the uploader's
        own, or anyone's if `may_replace_others` (an administrator). Returns the stored
        document and whether it replaced one; raises `DocumentConflictError`."""
        rows = [
            (chunk.index, chunk.start_offset, chunk.text, vector)
            for chunk, vector in zip(document.chunks, document.vectors, strict=True)
        ]
        with self.pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                ("\x1f".join((document.workspace, document.owner_key, document.source)),),
            )
            cur.execute(
                "SELECT uploaded_by FROM documents WHERE workspace = %s AND owner_id = %s AND source = %s",
                (document.workspace, document.owner_key, document.source),
            )
            existing = cur.fetchone()
            if existing is not None and not may_replace_others:
                refuse_foreign_replacement(
                    document.name, document.workspace, existing[0], document.uploaded_by
                )
            cur.execute(
                "DELETE FROM documents WHERE workspace = %s AND owner_id = %s AND source = %s RETURNING id",
                (document.workspace, document.owner_key, document.source),
            )
            replaced = cur.fetchone() is not None
            cur.execute(
                f"""INSERT INTO documents (workspace, owner_id, uploaded_by, source, name, content_type,
                                           size_bytes, sha256, chunk_count)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_DOCUMENT_COLUMNS}""",
                (
                    document.workspace,
                    document.owner_key,
                    document.uploaded_by,
                    document.source,
                    document.name,
                    document.content_type,
                    document.size_bytes,
                    document.sha256,
                    len(rows),
                ),
            )
            inserted = cur.fetchone()
            assert inserted is not None  # INSERT ... RETURNING answers the row it wrote
            info = _document_info(inserted)
            execute_values(
                cur,
                """INSERT INTO chunks (document_id, workspace, owner_id, chunk_index, start_offset, text, embedding)
                   VALUES %s""",
                [(info.id, document.workspace, document.owner_key, *row) for row in rows],
                page_size=256,
            )
        return info, replaced

    def uploader_of(self, workspace: str, owner_key: str, source: str) -> str | None:
        """Who uploaded the document stored for this source; None if there is none."""
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT uploaded_by FROM documents WHERE workspace = %s AND owner_id = %s AND source = %s",
                (workspace, owner_key, source),
            )
            row = cur.fetchone()
        return None if row is None else row[0]

    def delete_document(self, user_id: str, document_id: str, *, may_delete_shared: bool = False) -> None:
        """Delete a document the user may delete: their private ones, and shared ones they
        uploaded (any shared one if `may_delete_shared`: an administrator)."""
        if not _is_uuid(document_id):
            raise DocumentNotFoundError(f"No document {document_id!r}. List your documents to see their ids.")
        with self.pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                """DELETE FROM documents
                   WHERE id = %s AND ((workspace = 'private' AND owner_id = %s)
                                      OR (workspace <> 'private' AND (uploaded_by = %s OR %s)))
                   RETURNING id""",
                (document_id, user_id, user_id, may_delete_shared),
            )
            if cur.fetchone() is None:
                raise DocumentNotFoundError(
                    f"No document {document_id!r} that you may delete. List your documents to see their ids."
                )

    def delete_source(self, workspace: str, owner_key: str, source: str) -> bool:
        """Delete the document stored for a source (the S3 indexer's ObjectRemoved). True if one was."""
        with self.pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "DELETE FROM documents WHERE workspace = %s AND owner_id = %s AND source = %s RETURNING id",
                (workspace, owner_key, source),
            )
            return cur.fetchone() is not None

    # -- reading -------------------------------------------------------------------------

    def list_documents(self, user_id: str, workspaces: Sequence[str]) -> list[DocumentInfo]:
        """The documents a user can see, newest first."""
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents c WHERE {_VISIBLE} ORDER BY created_at DESC, name",
                _scope(user_id, workspaces),
            )
            return [_document_info(row) for row in cur.fetchall()]

    def get_document(self, user_id: str, document_id: str, workspaces: Sequence[str]) -> DocumentInfo:
        if _is_uuid(document_id):
            with self.pool.connection() as conn, conn.cursor() as cur:
                cur.execute(
                    f"SELECT {_DOCUMENT_COLUMNS} FROM documents c WHERE id = %(id)s AND {_VISIBLE}",
                    {**_scope(user_id, workspaces), "id": document_id},
                )
                row = cur.fetchone()
                if row is not None:
                    return _document_info(row)
        raise DocumentNotFoundError(f"No document {document_id!r}. List your documents to see their ids.")

    def candidates(
        self,
        user_id: str,
        workspaces: Sequence[str],
        *,
        query_text: str,
        query_vector: np.ndarray | None,
        limit: int,
        mode: SearchMode,
        ef_search: int,
        text_scan_limit: int = 2000,
    ) -> list[Candidate]:
        """Up to `limit` chunks from each side (vector, full text) in one round trip."""
        query = (
            # Local to this transaction: the search breadth, and pgvector 0.8's iterative scan,
            # which keeps searching the graph when the workspace filter drops neighbours.
            "SELECT set_config('hnsw.ef_search', %(ef_search)s, true), "
            "set_config('hnsw.iterative_scan', 'relaxed_order', true); " + _CANDIDATES_SQL[mode]
        )
        params = {
            **_scope(user_id, workspaces),
            "vector": query_vector,
            "text": query_text,
            "limit": limit,
            "ef_search": str(ef_search),
            "text_scan_limit": text_scan_limit,
        }
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return [Candidate(*row) for row in cur.fetchall()]

    def count_chunks(self) -> int:
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM chunks")
            (count,) = cur.fetchone() or (0,)  # an aggregate always answers one row
            return count


def refuse_foreign_replacement(name: str, workspace: str, owner: str, uploader: str) -> None:
    """Refuse `uploader`'s replacing `owner`'s shared document (the caller checked that they may
    not replace anyone's)."""
    if owner != uploader:
        raise DocumentConflictError(
            f"{name!r} in the {workspace!r} workspace belongs to {owner!r}: only they or an administrator "
            "can replace it. Rename your file to share it beside theirs."
        )


def _scope(user_id: str, workspaces: Sequence[str]) -> dict[str, object]:
    return {
        "user": user_id,
        "private": PRIVATE in workspaces,
        "shared": [workspace for workspace in workspaces if workspace != PRIVATE],
    }


def _document_info(row: tuple) -> DocumentInfo:
    names = ("id", "name", "workspace", "source", "content_type", "size_bytes", "chunk_count", "uploaded_by")
    return DocumentInfo(**dict(zip(names, row[:8], strict=True)), created_at=row[8])


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True
