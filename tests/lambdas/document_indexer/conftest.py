"""moto's S3, the session's real embedded PostgreSQL, and the real MiniLM model."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chatbot.postgres import create_database
from chatbot.retrieval.service import Retrieval
from tests.chatbot.retrieval.support import shared_embedder

BUCKET = "chatbot-documents"


@pytest.fixture(scope="session")
def indexer_database(postgres_server_url: str) -> str:
    return create_database(postgres_server_url, "document_indexer_tests")


@pytest.fixture(scope="session")
def indexer_retrieval(indexer_database: str) -> Iterator[Retrieval]:
    retrieval = Retrieval.open(indexer_database, embedder=shared_embedder())
    yield retrieval
    retrieval.close()


@pytest.fixture
def retrieval(indexer_retrieval: Retrieval) -> Retrieval:
    with indexer_retrieval.store.pool.transaction() as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE documents CASCADE")
    return indexer_retrieval


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client
