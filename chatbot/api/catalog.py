"""What a deployment offers and enforces: GET /models (the chat models) and GET /limits (the
limits the web app shows, and checks before it sends)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    model_id: str
    #: chat, embedding or rerank (GET /models lists the chat models).
    task: str
    #: native, batched or none.
    streaming: str
    context_window: int
    max_new_tokens_limit: int
    default_parameters: dict[str, Any]
    #: The model the app picks first (an administrator's choice, else the first listed; issue 21).
    default: bool = False


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Longest message accepted, in characters.
    max_message_chars: int
    #: Largest document accepted for upload, in bytes; None where documents are off.
    max_document_bytes: int | None
    #: Largest document sent straight to the documents bucket (POST /documents/upload-url), in
    #: bytes; None where there is no bucket (locally: every upload goes through POST /documents).
    max_direct_upload_bytes: int | None = None

    @property
    def largest_upload_bytes(self) -> int:
        """The largest file the Documents page can take, whichever way it is sent."""
        return max(self.max_document_bytes or 0, self.max_direct_upload_bytes or 0)
