"""Documents as the chat API answers about them: the stored document, the lines of an upload's
stream (progress, the document, or an error), a presigned form for a direct upload, and the
passages a search finds. The retrieval library builds them (chatbot/retrieval/); the web app
reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Stage = Literal["extracting", "embedding", "storing", "done"]


class IngestProgress(BaseModel):
    """Reported while a document is indexed, for a progress bar."""

    model_config = ConfigDict(frozen=True)

    filename: str
    stage: Stage
    chunks_done: int = Field(ge=0)
    chunks_total: int = Field(ge=0)

    @property
    def fraction(self) -> float:
        """0..1 for a progress bar: embedding is nearly all of the work."""
        if self.stage == "done":
            return 1.0
        if self.chunks_total == 0:
            return 0.0
        return min(self.chunks_done / self.chunks_total, 1.0) * 0.95


class DocumentInfo(BaseModel):
    """A stored document, as the Documents page lists it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    workspace: str
    source: str
    content_type: str
    size_bytes: int
    chunk_count: int
    uploaded_by: str
    created_at: datetime


class RetrievedChunk(BaseModel):
    """One passage found for a query, with where it comes from and why it ranked."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    #: The uploaded file's name, as shown to the user.
    document_name: str
    #: Who uploaded the document: for a shared one, someone other than the reader perhaps.
    uploaded_by: str
    workspace: str
    #: Position of the chunk in its document, from 0.
    chunk_index: int = Field(ge=0)
    #: Character offset of the chunk in the document's extracted text.
    start_offset: int = Field(ge=0)
    text: str
    #: Cosine similarity to the query (1 = same direction); None if the vector search missed it.
    vector_score: float | None = None
    #: ts_rank_cd of the full-text match; None if the full-text search missed it.
    text_score: float | None = None
    #: 1-based ranks in each list (None = not in that list): what the fusion used.
    vector_rank: int | None = None
    text_rank: int | None = None
    #: Reciprocal rank fusion score: the sum of 1 / (rrf_k + rank) over both lists.
    fused_score: float
    #: The reranker's score, when a reranker is configured; results are then ordered by it.
    rerank_score: float | None = None

    @property
    def citation(self) -> str:
        """How an answer names its source: document and chunk (1-based for people)."""
        return f"{self.document_name}, chunk {self.chunk_index + 1}"


class DirectUpload(BaseModel):
    """A presigned S3 POST: send `fields` and then the file (as `file`), multipart, to `url`."""

    url: str
    fields: dict[str, str]
    key: str
    max_bytes: int
    expires_in_s: int


class ProgressLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["progress"] = "progress"
    progress: IngestProgress
    #: 0..1, for a progress bar.
    fraction: float


class DocumentLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["document"] = "document"
    document: DocumentInfo
    #: This upload replaced an earlier version of the same file.
    replaced: bool


class ErrorLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["error"] = "error"
    code: str
    message: str
    #: The file that was not indexed.
    filename: str | None = None


#: One line of POST /documents' stream.
UploadLine = ProgressLine | DocumentLine | ErrorLine
