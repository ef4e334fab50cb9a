"""Sentence embeddings for SageMaker's Hugging Face inference toolkit (the custom-script kind).

CodeBuild puts this folder at code/ inside model.tar.gz next to the downloaded model.
Request:  {"inputs": "text" | ["text", ...], "normalize": true}
Response: {"embeddings": [[float, ...], ...], "dimensions": 384}
"""

from __future__ import annotations

from typing import Any


def model_fn(model_dir: str) -> Any:
    from sentence_transformers import SentenceTransformer  # installed from code/requirements.txt

    return SentenceTransformer(model_dir, device="cpu")


def predict_fn(data: dict[str, Any], model: Any) -> dict[str, Any]:
    inputs = data.get("inputs")
    texts = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(texts, list) or not texts or not all(isinstance(text, str) for text in texts):
        raise ValueError('expected {"inputs": "text" or ["text", ...]}')
    vectors = model.encode(texts, normalize_embeddings=bool(data.get("normalize", True)), batch_size=32)
    return {"embeddings": vectors.tolist(), "dimensions": int(vectors.shape[1])}
