"""The gateway's API keys as their owner manages them (POST, GET and DELETE /api-keys): never the
key itself, but once, as it is made, nor its hash."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CreateKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: A label to recognise the key by, e.g. "laptop" or "Open WebUI".
    name: str = Field(min_length=1, max_length=100, pattern=r"\S")


class KeyInfo(BaseModel):
    """A key as its owner sees it: never the key itself, nor its hash."""

    # Built from the stored key's fields: those it does not name (its owner, its hash) are dropped.
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    #: The key's first characters ("sk-chatbot-AbCd"), to recognise it.
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    active: bool
    requests: int
    prompt_tokens: int
    completion_tokens: int


class CreatedKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The key itself: shown this once, never again. Send it as `Authorization: Bearer <key>`.
    key: str
    info: KeyInfo
