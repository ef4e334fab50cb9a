"""The API-key part of the HistoryStore contract, against both real stores (the `store` fixture)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from chatbot.api.records import utc_now
from chatbot.chat.api_keys import (
    API_KEY_PREFIX,
    ApiKeyNotFoundError,
    TooManyApiKeysError,
    hash_api_key,
    new_api_key,
)
from chatbot.chat.store import HistoryStore


def test_a_key_is_stored_as_a_hash_and_found_by_it(store: HistoryStore):
    key, record = new_api_key("alice", "laptop")
    assert key.startswith(API_KEY_PREFIX)
    assert key not in record.model_dump_json(), "the key itself is never stored"
    assert record.prefix == key[: len(API_KEY_PREFIX) + 4]
    store.create_api_key(record)
    assert store.find_api_key(hash_api_key(key)) == record
    assert store.find_api_key(hash_api_key(key + "x")) is None


def test_keys_are_listed_per_user_newest_first(store: HistoryStore):
    now = utc_now()
    for index, name in enumerate(["old", "new"]):
        _, record = new_api_key("alice", name)
        store.create_api_key(record.model_copy(update={"created_at": now + timedelta(seconds=index)}))
    store.create_api_key(new_api_key("bob", "bob's")[1])
    assert [key.name for key in store.list_api_keys("alice")] == ["new", "old"]
    assert [key.name for key in store.list_api_keys("bob")] == ["bob's"]
    assert store.list_api_keys("carol") == []


def test_revoking_keeps_the_key_listed_as_revoked_and_only_its_owner_may(store: HistoryStore):
    key, record = new_api_key("alice", "ci")
    store.create_api_key(record)
    with pytest.raises(ApiKeyNotFoundError):
        store.revoke_api_key("bob", record.id, utc_now())
    assert store.find_api_key(hash_api_key(key)).active
    first = utc_now()
    revoked = store.revoke_api_key("alice", record.id, first)
    assert revoked.revoked_at == first
    assert not store.find_api_key(hash_api_key(key)).active
    again = store.revoke_api_key("alice", record.id, first + timedelta(minutes=1))
    assert again.revoked_at == first, "revoking twice keeps the first time"
    assert [key.active for key in store.list_api_keys("alice")] == [False]
    with pytest.raises(ApiKeyNotFoundError):
        store.revoke_api_key("alice", "no-such-key", utc_now())


def test_concurrent_calls_count_every_use_and_token(store: HistoryStore):
    key, record = new_api_key("alice", "busy")
    store.create_api_key(record)

    def use(index: int) -> None:
        store.record_api_key_use(record, 10, index, utc_now())

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(use, range(20)))
    counted = store.find_api_key(hash_api_key(key))
    assert (counted.requests, counted.prompt_tokens, counted.completion_tokens) == (20, 200, sum(range(20)))
    assert counted.last_used_at is not None


def test_the_active_key_cap_holds_when_keys_are_created_at_once(store: HistoryStore):
    records = [new_api_key("alice", f"key {index}")[1] for index in range(12)]

    def create(record) -> bool:
        try:
            store.create_api_key(record, max_active=5)
        except TooManyApiKeysError:
            return False
        return True

    with ThreadPoolExecutor(12) as pool:
        created = list(pool.map(create, records))
    assert sum(created) == 5
    assert sum(key.active for key in store.list_api_keys("alice")) == 5
    store.create_api_key(new_api_key("bob", "bob's")[1], max_active=5)  # a cap per user


def test_a_revoked_key_frees_its_place_under_the_cap_once(store: HistoryStore):
    records = [new_api_key("alice", f"key {index}")[1] for index in range(2)]
    for record in records:
        store.create_api_key(record, max_active=2)
    with pytest.raises(TooManyApiKeysError):
        store.create_api_key(new_api_key("alice", "third")[1], max_active=2)
    store.revoke_api_key("alice", records[0].id, utc_now())
    store.revoke_api_key("alice", records[0].id, utc_now())  # twice: still one place freed
    store.create_api_key(new_api_key("alice", "third")[1], max_active=2)
    with pytest.raises(TooManyApiKeysError):
        store.create_api_key(new_api_key("alice", "fourth")[1], max_active=2)
