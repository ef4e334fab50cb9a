"""Pydantic shapes at the ingestion boundary: what is uploaded, progress, and what is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatbot.retrieval.errors import DocumentError
from chatbot.retrieval.retriever import PRIVATE, WORKSPACE_PATTERN


class Upload(BaseModel):
    """One file to index for one user."""

    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1, max_length=256)
    #: The file's name; its extension picks the text extractor (.txt .md .html .pdf .docx).
    filename: str = Field(min_length=1, max_length=1024)
    data: bytes = Field(repr=False)
    #: "private" (the uploader's own) or a shared workspace name.
    workspace: str = Field(PRIVATE, pattern=WORKSPACE_PATTERN)
    #: What identifies "the same document" for re-uploads; the filename unless given (an S3 key path).
    source: str | None = Field(None, min_length=1, max_length=1024)

    @field_validator("filename")
    @classmethod
    def _no_control_characters(cls, name: str) -> str:
        if "\x00" in name:
            raise ValueError("contains a NUL character (\\u0000), which cannot be stored")
        if any(ord(char) < 32 for char in name):
            raise ValueError("must not contain control characters")
        return name

    @classmethod
    def checked(cls, **fields: Any) -> Upload:
        """An Upload from what a caller sent; a bad field is a DocumentError (the caller's
        mistake, said in words), never a bare ValidationError."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            raise DocumentError(
                f"The upload's {where} {message}. Rename it or fix it and try again."
            ) from None

    @property
    def document_source(self) -> str:
        return self.source or self.filename

    @property
    def owner_key(self) -> str:
        """The uploader for private documents; empty for shared ones: a shared workspace holds
        one document per source (one S3 key), which belongs to its `uploaded_by`."""
        return self.user_id if self.workspace == PRIVATE else ""


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


class IngestResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    document: DocumentInfo
    #: True if this upload replaced an earlier version of the same source.
    replaced: bool
