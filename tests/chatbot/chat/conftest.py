from __future__ import annotations

import threading
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from chatbot.chat.dynamodb_store import TABLE_SCHEMA, DynamoDBHistoryStore
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.chat.store import HistoryStore
from chatbot.postgres import ConnectionPool, create_database


def serialise_moto(monkeypatch) -> None:
    """DynamoDB runs each request atomically (its atomic counters and conditional writes rest
    on that); moto's in-process emulation has no locks, so concurrent-writer tests would test
    moto's races instead. Serialising moto's request handler restores per-request atomicity."""
    stubber_call = BotocoreStubber.__call__
    lock = threading.Lock()

    def atomic_call(self, *args, **kwargs):
        with lock:
            return stubber_call(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", atomic_call)


@pytest.fixture
def dynamodb_store(monkeypatch) -> Iterator[DynamoDBHistoryStore]:
    serialise_moto(monkeypatch)
    with mock_aws():
        boto3.resource("dynamodb", region_name="us-east-1").create_table(TableName="history", **TABLE_SCHEMA)
        yield DynamoDBHistoryStore("history", region="us-east-1")


_databases = iter(range(1_000_000))


@pytest.fixture
def postgres_store(postgres_server_url: str) -> Iterator[PostgresHistoryStore]:
    """A fresh database on the session's real embedded Postgres for each test."""
    pool = ConnectionPool(
        create_database(postgres_server_url, f"history_{next(_databases)}"), max_connections=24
    )
    yield PostgresHistoryStore(pool)
    pool.close()


@pytest.fixture(params=["postgres", "dynamodb"])
def store(request) -> HistoryStore:
    """The contract tests run against both real stores."""
    return request.getfixturevalue(f"{request.param}_store")
