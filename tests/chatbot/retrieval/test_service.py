"""Retrieval.from_environment: the wiring the Lambdas and the local stack use."""

from __future__ import annotations

import pytest

from chatbot.postgres import create_database
from chatbot.retrieval.embedders import LocalEmbedder, SageMakerEmbedder
from chatbot.retrieval.models import Upload
from chatbot.retrieval.reranker import SageMakerReranker
from chatbot.retrieval.service import Retrieval
from tests.chatbot.retrieval.endpoint_server import endpoint_server
from tests.chatbot.retrieval.support import endpoint_spec


@pytest.fixture
def environment(monkeypatch, postgres_server_url):
    monkeypatch.setenv("DATABASE_URL", create_database(postgres_server_url, "from_environment"))
    for name in ("EMBEDDING_MODEL_SPEC", "RERANK_MODEL_SPEC", "SAGEMAKER_ENDPOINT_URL", "MAX_DOCUMENT_MB"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_endpoints_it_uses_the_local_model_and_no_reranker(environment):
    retrieval = Retrieval.from_environment()
    try:
        assert isinstance(retrieval.embedder, LocalEmbedder)
        assert retrieval.retriever.reranker is None
        assert retrieval.ingestor.settings.max_document_bytes == 25 * 1024 * 1024
    finally:
        retrieval.close()


def test_endpoints_named_by_model_specs_embed_and_rerank_through_sagemaker(environment, embedder):
    with endpoint_server(embedder) as url:
        environment.setenv(
            "EMBEDDING_MODEL_SPEC", endpoint_spec("minilm-embed", "embedding").model_dump_json()
        )
        environment.setenv("RERANK_MODEL_SPEC", endpoint_spec("minilm-rerank", "rerank").model_dump_json())
        environment.setenv("SAGEMAKER_ENDPOINT_URL", url)
        environment.setenv("MAX_DOCUMENT_MB", "0.5")
        retrieval = Retrieval.from_environment()
        try:
            assert isinstance(retrieval.embedder, SageMakerEmbedder)
            assert isinstance(retrieval.retriever.reranker, SageMakerReranker)
            assert retrieval.ingestor.settings.max_document_bytes == 512 * 1024
            retrieval.ingestor.ingest(
                Upload(user_id="ana", filename="a.txt", data=b"Otters hold hands asleep.")
            )
            [hit] = retrieval.retriever.search("ana", "sleeping otters", k=1)
            assert hit.document_name == "a.txt"
            assert hit.rerank_score is not None
        finally:
            retrieval.close()
