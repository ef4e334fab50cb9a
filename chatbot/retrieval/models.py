"""Pydantic shapes at the ingestion boundary: what is uploaded, progress, and what is stored."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatbot.api.documents import DocumentInfo
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


class IngestResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    document: DocumentInfo
    #: True if this upload replaced an earlier version of the same source.
    replaced: bool
