"""Deleting the documents one user uploaded (issue 21, "Leaving"): their rows, their chunks
with the vectors (the chunks go with their document: ON DELETE CASCADE), and the objects the
documents were read from.

"Uploaded" means the user's private documents and the shared ones whose uploader they are: a
shared document someone else uploaded stays, even where this user could see it. Objects: the
user's whole private folder of the documents bucket (an upload that never got indexed included),
and the object of each shared document of theirs. The match on the user id is exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.api.erasure import ErasureReport
from chatbot.retrieval.object_keys import PRIVATE_FOLDER, SHARED_FOLDER
from chatbot.retrieval.retriever import PRIVATE

if TYPE_CHECKING:
    from chatbot.chat.attachments import Blobs
    from chatbot.retrieval.store import PgVectorStore


def erase_documents(store: PgVectorStore, user_id: str, blobs: Blobs | None) -> ErasureReport:
    """Deletes the user's documents (and, given the blob store, their objects); the counts."""
    with store.pool.transaction() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id"
            " WHERE (d.workspace = %(private)s AND d.owner_id = %(user)s)"
            " OR (d.workspace <> %(private)s AND d.uploaded_by = %(user)s)",
            {"private": PRIVATE, "user": user_id},
        )
        row = cur.fetchone()
        chunks = int(row[0]) if row else 0
        cur.execute(
            "DELETE FROM documents WHERE (workspace = %(private)s AND owner_id = %(user)s)"
            " OR (workspace <> %(private)s AND uploaded_by = %(user)s) RETURNING workspace, source",
            {"private": PRIVATE, "user": user_id},
        )
        deleted = cur.fetchall()
    files = 0
    if blobs is not None:
        if "/" not in user_id:  # a key's folder is the id itself (object_keys.object_key)
            files += len(blobs.delete_folder(f"{PRIVATE_FOLDER}/{user_id}"))
        for workspace, source in deleted:
            if workspace != PRIVATE:
                files += blobs.delete(f"{SHARED_FOLDER}/{workspace}/{source}")
    return ErasureReport(documents=len(deleted), chunks=chunks, files=files)
