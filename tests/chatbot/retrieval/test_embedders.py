"""Embedders: the local MiniLM model, and a SageMaker endpoint called through boto3's real
client, behind one protocol. Vectors are 384 floats of unit length; similar texts are close."""

from __future__ import annotations

import numpy as np
import pytest

from chatbot.errors import ConfigError, ModelCallError
from chatbot.models.clients import sagemaker_runtime_client
from chatbot.retrieval.embedders import Embedder, SageMakerEmbedder
from chatbot.retrieval.errors import EmbeddingError
from chatbot.retrieval.reranker import SageMakerReranker
from tests.chatbot.retrieval.endpoint_server import endpoint_server
from tests.chatbot.retrieval.support import endpoint_spec


@pytest.fixture(scope="module")
def endpoint(embedder):
    with endpoint_server(embedder) as url:
        yield sagemaker_runtime_client(endpoint_url=url, max_attempts=1)


def test_local_vectors_are_384_unit_length_float32(embedder):
    vectors = embedder.embed_documents(["a cat sat on the mat", "stock markets fell"])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones(embedder):
    kitten, cat, market = embedder.embed_documents(["a kitten naps", "a cat is sleeping", "bond yields rose"])
    assert kitten @ cat > kitten @ market + 0.2


def test_a_query_embeds_like_the_same_text_as_a_document(embedder):
    assert np.allclose(
        embedder.embed_query("hello world"), embedder.embed_documents(["hello world"])[0], atol=1e-5
    )


def test_no_texts_embed_to_an_empty_matrix(embedder):
    assert embedder.embed_documents([]).shape == (0, 384)


def test_both_embedders_satisfy_the_protocol(embedder, endpoint):
    assert isinstance(embedder, Embedder)
    assert isinstance(SageMakerEmbedder(endpoint_spec("minilm-embed", "embedding"), endpoint), Embedder)


def test_the_endpoint_embedder_matches_the_model_it_serves_across_batches(embedder, endpoint):
    remote = SageMakerEmbedder(endpoint_spec("minilm-embed", "embedding"), endpoint, max_batch=2)
    texts = ["one", "two", "three", "four", "five"]
    assert np.allclose(remote.embed_documents(texts), embedder.embed_documents(texts), atol=1e-5)
    assert remote.name == "sentence-transformers/all-MiniLM-L6-v2"  # same model: same pinned index


def test_an_endpoint_error_becomes_an_embedding_error_that_says_what_to_check(endpoint):
    remote = SageMakerEmbedder(endpoint_spec("broken", "embedding"), endpoint)
    with pytest.raises(EmbeddingError, match="'broken' failed.*deployed and InService"):
        remote.embed_query("hello")


def test_vectors_of_the_wrong_size_are_refused(endpoint):
    remote = SageMakerEmbedder(endpoint_spec("wrong-shape", "embedding"), endpoint)
    with pytest.raises(EmbeddingError, match=r"returned shape \(1, 2\); expected \(1, 384\)"):
        remote.embed_query("hello")


def test_a_chat_model_cannot_be_used_as_an_embedder(endpoint):
    with pytest.raises(ConfigError, match="task 'chat'; an embedder needs a model with task: embedding"):
        SageMakerEmbedder(endpoint_spec("minilm-embed", "chat"), endpoint)


def test_the_reranker_scores_each_text_in_the_order_given(endpoint):
    reranker = SageMakerReranker(endpoint_spec("minilm-rerank", "rerank"), endpoint)
    scores = reranker.scores("feline", ["stock prices", "a cat", "bonds"])
    assert len(scores) == 3
    assert max(scores) == scores[1]


def test_a_failing_reranker_says_what_to_do(endpoint):
    reranker = SageMakerReranker(endpoint_spec("broken", "rerank"), endpoint)
    with pytest.raises(ModelCallError, match="remove the reranker"):
        reranker.scores("q", ["a"])


def test_an_embedding_model_cannot_be_used_as_a_reranker(endpoint):
    with pytest.raises(ConfigError, match="a reranker needs a model with task: rerank"):
        SageMakerReranker(endpoint_spec("minilm-embed", "embedding"), endpoint)
