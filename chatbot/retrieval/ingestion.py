"""Upload -> text -> chunks -> vectors -> store, reporting progress as chunks are embedded.

Every check that can refuse a document runs before the store is touched, and the store
writes the whole document in one transaction: a failed upload changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from chatbot.api.documents import IngestProgress, Stage
from chatbot.retrieval.chunking import split_text
from chatbot.retrieval.embedders import Embedder
from chatbot.retrieval.errors import DocumentTooLargeError, EmbeddingError
from chatbot.retrieval.extraction import extract_text
from chatbot.retrieval.models import IngestResult, Upload
from chatbot.retrieval.settings import MB, RetrievalSettings
from chatbot.retrieval.store import NewDocument, PgVectorStore, refuse_foreign_replacement

ProgressCallback = Callable[[IngestProgress], None]


def human_size(size_bytes: int) -> str:
    """1536 -> '1.5 KB', 26214400 -> '25 MB'."""
    for unit, scale in (("MB", MB), ("KB", 1024)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size_bytes} bytes"


def refuse_oversized(filename: str, size_bytes: int, limit: int) -> None:
    if size_bytes > limit:
        raise DocumentTooLargeError(
            f"{filename!r} is {human_size(size_bytes)}; the limit is {human_size(limit)}. Split it into "
            "smaller files, or ask an administrator to raise max_document_bytes."
        )


class Ingestor:
    def __init__(self, store: PgVectorStore, embedder: Embedder, settings: RetrievalSettings | None = None):
        self.store = store
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()

    def check_size(self, filename: str, size_bytes: int) -> None:
        """Refuse a file over the limit before reading it (the S3 indexer checks the object's size)."""
        refuse_oversized(filename, size_bytes, self.settings.max_document_bytes)

    def check_may_replace(self, upload: Upload, *, may_replace_others: bool = False) -> None:
        """Refuse, before any work, an upload that would replace someone else's shared document
        (`DocumentConflictError`); the store checks again as it writes."""
        if may_replace_others:
            return
        owner = self.store.uploader_of(upload.workspace, upload.owner_key, upload.document_source)
        if owner is not None:
            refuse_foreign_replacement(upload.filename, upload.workspace, owner, upload.user_id)

    def ingest(
        self,
        upload: Upload,
        on_progress: ProgressCallback | None = None,
        *,
        may_replace_others: bool = False,
    ) -> IngestResult:
        """Index one upload, replacing an earlier version of the same source: the uploader's
        own, or anyone's if `may_replace_others` (an administrator). Raises a `DocumentError`
        for bad input or someone else's document, with the store unchanged."""

        def report(stage: Stage, done: int, total: int) -> None:
            if on_progress is not None:
                on_progress(
                    IngestProgress(
                        filename=upload.filename, stage=stage, chunks_done=done, chunks_total=total
                    )
                )

        self.check_size(upload.filename, len(upload.data))
        self.check_may_replace(upload, may_replace_others=may_replace_others)
        report("extracting", 0, 0)
        extracted = extract_text(upload.filename, upload.data)
        chunks = split_text(
            extracted.text,
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
            content_type=extracted.content_type,
        )
        total = len(chunks)
        report("embedding", 0, total)
        batches = []
        for start in range(0, total, self.settings.embed_batch_size):
            texts = [chunk.text for chunk in chunks[start : start + self.settings.embed_batch_size]]
            vectors = self.embedder.embed_documents(texts)
            if vectors.shape != (len(texts), self.embedder.dimension):
                raise EmbeddingError(
                    f"The embedding model returned shape {vectors.shape} for {len(texts)} texts; "
                    f"expected ({len(texts)}, {self.embedder.dimension})."
                )
            batches.append(vectors)
            report("embedding", start + len(texts), total)
        report("storing", total, total)
        info, replaced = self.store.replace_document(
            NewDocument(
                workspace=upload.workspace,
                owner_key=upload.owner_key,
                uploaded_by=upload.user_id,
                source=upload.document_source,
                name=upload.filename.replace("\\", "/").rsplit("/", 1)[-1],
                content_type=extracted.content_type,
                size_bytes=len(upload.data),
                sha256=hashlib.sha256(upload.data).hexdigest(),
                chunks=chunks,
                vectors=np.concatenate(batches),
            ),
            may_replace_others=may_replace_others,
        )
        report("done", total, total)
        return IngestResult(document=info, replaced=replaced)
