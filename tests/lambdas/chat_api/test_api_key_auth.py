"""API-key auth: a key is told from a sign-in token by its prefix and checked against its hash."""

from __future__ import annotations

import pytest

from chatbot.api.records import utc_now
from chatbot.chat.api_keys import hash_api_key, new_api_key
from lambdas.chat_api.auth import AuthError, api_key_record, presented_api_key


def test_a_key_is_taken_from_a_bearer_header_and_a_token_is_not():
    key, _ = new_api_key("alice", "laptop")
    assert presented_api_key({"authorization": f"Bearer {key}"}) == key
    assert presented_api_key({"authorization": f"bearer  {key} "}) == key
    assert presented_api_key({"authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"}) is None
    assert presented_api_key({"x-id-token": key}) is None, "an ID token's header is not for keys"
    signed = {"authorization": "AWS4-HMAC-SHA256 Credential=...", "x-api-key": key}
    assert presented_api_key(signed) == key, "behind CloudFront's signing, the key travels in X-Api-Key"
    assert presented_api_key({}) is None


def test_an_active_key_gives_its_record_and_an_unknown_or_revoked_one_is_refused():
    key, record = new_api_key("alice", "laptop")
    stored = {record.key_hash: record}
    assert api_key_record(key, stored.get) == record
    with pytest.raises(AuthError, match="Incorrect API key provided: sk-chatbot-"):
        api_key_record(key + "x", stored.get)
    stored[hash_api_key(key)] = record.model_copy(update={"revoked_at": utc_now()})
    with pytest.raises(AuthError, match="not revoked") as refused:
        api_key_record(key, stored.get)
    assert key[15:] not in str(refused.value), "the message shows only the key's prefix"
