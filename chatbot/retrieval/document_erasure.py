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


_THEIRS = (
    "(d.workspace = %(private)s AND d.owner_id = %(user)s)"
    " OR (d.workspace <> %(private)s AND d.uploaded_by = %(user)s)"
)


def erase_documents(store: PgVectorStore, user_id: str, blobs: Blobs | None) -> ErasureReport:
    """Deletes the user's documents (and, given the blob store, their objects); the counts.
    The objects go before the rows: the rows name the shared objects, so were the deletion
    interrupted, running it again still finds every object left."""
    scope = {"private": PRIVATE, "user": user_id}
    with store.pool.connection() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT d.workspace, d.source FROM documents d WHERE {_THEIRS}", scope)
        documents = cur.fetchall()
    files = 0
    if blobs is not None:
        if user_id and "/" not in user_id:  # the folder is the id itself (object_keys.object_key)
            files += len(blobs.delete_folder(f"{PRIVATE_FOLDER}/{user_id}"))
        for workspace, source in documents:
            if workspace != PRIVATE:
                files += blobs.delete(f"{SHARED_FOLDER}/{workspace}/{source}")
    with store.pool.transaction() as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE {_THEIRS}", scope
        )
        row = cur.fetchone()
        chunks = int(row[0]) if row else 0
        cur.execute(f"DELETE FROM documents d WHERE {_THEIRS}", scope)
        deleted = cur.rowcount
    return ErasureReport(documents=deleted, chunks=chunks, files=files)
