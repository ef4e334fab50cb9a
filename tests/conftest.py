from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatbot.models.catalog import ModelCatalog, load_catalog
from chatbot.models.clients import RuntimeClients, bedrock_runtime_client, sagemaker_runtime_client
from chatbot.postgres import temporary_server
from tests.servers import ROOT, model_server


@pytest.fixture(scope="session")
def catalog() -> ModelCatalog:
    return load_catalog(ROOT / "models.yaml")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """One real embedded PostgreSQL (with pgvector) for the whole run, in a temporary folder."""
    with temporary_server() as url:
        yield url


@pytest.fixture(scope="session")
def model_server_url() -> Iterator[str]:
    """One real model server (both local models) shared by the whole run."""
    with model_server() as url:
        yield url


@pytest.fixture(scope="session")
def runtime_client(model_server_url: str):
    """boto3's real sagemaker-runtime client, pointed at the local model server. No retries,
    so a test sees each error as the server sent it."""
    return sagemaker_runtime_client(endpoint_url=model_server_url, max_attempts=1)


@pytest.fixture(scope="session")
def runtime_clients(model_server_url: str, runtime_client) -> RuntimeClients:
    """Both runtime clients (SageMaker's and Bedrock's), as the chat API builds them: the local
    model server speaks both APIs."""
    return RuntimeClients(
        sagemaker=runtime_client,
        bedrock=bedrock_runtime_client(endpoint_url=model_server_url, max_attempts=1),
    )
