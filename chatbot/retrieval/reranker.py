"""An optional cross-encoder reranker behind a SageMaker endpoint (ModelSpec task "rerank").

Wire format: Hugging Face Text Embeddings Inference's /rerank, which SageMaker's TEI
container serves at /invocations: `{"query": q, "texts": [...]}` in,
`[{"index": i, "score": s}, ...]` out (any order).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from chatbot.errors import ConfigError, ModelCallError
from chatbot.models.spec import ModelSpec


@runtime_checkable
class Reranker(Protocol):
    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        """One relevance score per text, in the order given; higher is more relevant."""
        ...


class SageMakerReranker:
    def __init__(self, spec: ModelSpec, client: Any):
        if spec.task != "rerank":
            raise ConfigError(
                f"Model {spec.name!r} has task {spec.task!r}; a reranker needs a model with task: rerank."
            )
        self.spec = spec
        self._client = client

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.invoke_endpoint(
                EndpointName=self.spec.endpoint_name,
                ContentType="application/json",
                Accept="application/json",
                Body=json.dumps({"query": query, "texts": list(texts), "truncate": True}).encode(),
            )
            body = json.loads(response["Body"].read())
            by_index = {int(item["index"]): float(item["score"]) for item in body}
        except (ClientError, BotoCoreError) as exc:
            raise ModelCallError(
                f"The reranker endpoint {self.spec.endpoint_name!r} failed: {exc}. Check that it is "
                "InService, or remove the reranker from the configuration."
            ) from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelCallError(
                f"The reranker endpoint {self.spec.endpoint_name!r} answered in an unknown format; expected "
                '[{"index": i, "score": s}, ...] (Text Embeddings Inference /rerank).'
            ) from exc
        if sorted(by_index) != list(range(len(texts))):
            raise ModelCallError(
                f"The reranker endpoint {self.spec.endpoint_name!r} scored {len(by_index)} of {len(texts)} passages."
            )
        return [by_index[index] for index in range(len(texts))]
