"""API keys for the OpenAI-compatible gateway: made by a signed-in user, shown once, stored as a hash.

A key is `sk-chatbot-` plus 32 random bytes (URL-safe base64). It is random enough that a plain
SHA-256 is the right hash: there is nothing to brute-force, and a lookup by hash is one
indexed read. What a key does is its owner's: the gateway runs as the key's user.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from chatbot.api.records import new_id, utc_now
from chatbot.errors import ChatbotError

#: Every key starts with this, so the API tells a key from a sign-in token at a glance
#: (and secret scanners can find leaked keys).
API_KEY_PREFIX = "sk-chatbot-"
#: Characters of a key kept in the clear to recognise it in a list ("sk-chatbot-AbCd").
SHOWN_CHARS = len(API_KEY_PREFIX) + 4
#: Keys a user may hold that are not revoked.
MAX_ACTIVE_KEYS = 20


class ApiKeyNotFoundError(ChatbotError):
    code = "api_key_not_found"
    http_status = 404

    def __init__(self, key_id: str):
        super().__init__(f"No API key {key_id!r} was found. List your keys to see their ids.")


class TooManyApiKeysError(ChatbotError):
    code = "too_many_api_keys"
    http_status = 409

    def __init__(self) -> None:
        super().__init__(
            f"You already have {MAX_ACTIVE_KEYS} active API keys. Revoke one you no longer use first."
        )


class ApiKey(BaseModel):
    """What a store keeps about a key: never the key itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=new_id)
    user_id: str
    #: The owner's label, e.g. "laptop" or "Open WebUI".
    name: str = Field(min_length=1, max_length=100)
    #: The first characters of the key, to recognise it ("sk-chatbot-AbCd").
    prefix: str
    #: SHA-256 of the whole key, hex.
    key_hash: str
    created_at: datetime = Field(default_factory=utc_now)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    #: Gateway calls made with this key, and the tokens they used.
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)


def new_api_key(user_id: str, name: str) -> tuple[str, ApiKey]:
    """A fresh key (to show once) and the record to store."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, ApiKey(
        user_id=user_id, name=name.strip(), prefix=key[:SHOWN_CHARS], key_hash=hash_api_key(key)
    )
