"""Item 11: the API-key cap is kept atomically in the store. Forty keys asked for at once leave
exactly the cap active, and keys made before the store counted them count too."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from chatbot.chat.api_keys import MAX_ACTIVE_KEYS, TooManyApiKeysError, new_api_key
from chatbot.chat.dynamodb_store import DynamoDBHistoryStore
from chatbot.chat.store import HistoryStore
from lambdas.chat_api.auth import LocalTokens
from tests.chatbot.chat.conftest import dynamodb_store, postgres_store, store  # noqa: F401 (fixtures)
from tests.lambdas.chat_api.conftest import api_url, client_for, secret_file, tokens  # noqa: F401 (fixtures)


def test_forty_keys_asked_for_at_once_leave_the_cap_active(api_url: str, tokens: LocalTokens):  # noqa: F811
    clients = [client_for(api_url, tokens, "key-racer") for _ in range(40)]
    for client in clients:
        client.get("/limits").raise_for_status()  # connected and signed in before the race
    start = threading.Barrier(40)

    def create(index: int) -> int:
        start.wait()  # all forty at once
        return clients[index].post("/api-keys", json={"name": f"key {index}"}).status_code

    with ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(create, range(40)))
    for client in clients:
        client.close()
    with client_for(api_url, tokens, "key-racer") as client:
        active = [key for key in client.get("/api-keys").json() if key["active"]]
        refused = client.post("/api-keys", json={"name": "one more"})
    assert len(active) == MAX_ACTIVE_KEYS
    assert sorted(statuses) == [201] * MAX_ACTIVE_KEYS + [409] * (40 - MAX_ACTIVE_KEYS)
    assert refused.status_code == 409
    assert "Revoke one" in refused.json()["error"]["message"]


def test_keys_made_concurrently_in_either_store_never_pass_the_cap(store: HistoryStore):  # noqa: F811
    def create(index: int) -> bool:
        try:
            store.create_api_key(new_api_key("alice", f"key {index}")[1], max_active=3)
        except TooManyApiKeysError:
            return False
        return True

    with ThreadPoolExecutor(10) as pool:
        assert sum(pool.map(create, range(10))) == 3
    assert sum(key.active for key in store.list_api_keys("alice")) == 3


def test_dynamodb_counts_keys_the_previous_release_wrote_without_a_count(
    dynamodb_store: DynamoDBHistoryStore,  # noqa: F811
):
    """The previous release wrote key items only (no per-user count): the count starts from them."""
    for index in range(3):
        record = new_api_key("alice", f"old {index}")[1]
        dynamodb_store._table.put_item(
            Item={
                "pk": f"APIKEY#{record.key_hash}",
                "sk": "APIKEY",
                "gsi1pk": "APIKEYS#alice",
                "gsi1sk": f"{record.created_at.isoformat()}#{record.id}",
                **record.model_dump(mode="json", exclude_none=True),
            }
        )
    with pytest.raises(TooManyApiKeysError):
        dynamodb_store.create_api_key(new_api_key("alice", "new")[1], max_active=3)
    oldest = dynamodb_store.list_api_keys("alice")[-1]
    dynamodb_store.revoke_api_key("alice", oldest.id, oldest.created_at)
    dynamodb_store.create_api_key(new_api_key("alice", "new")[1], max_active=3)
    assert sum(key.active for key in dynamodb_store.list_api_keys("alice")) == 3
