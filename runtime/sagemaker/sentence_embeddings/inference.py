"""Sentence embeddings for SageMaker's Hugging Face inference toolkit (the custom-script kind).

CodeBuild puts this folder at code/ inside model.tar.gz next to the downloaded model, with the
dependencies of requirements.lock installed in code/lib (nothing is installed at a cold start).
Request:  {"inputs": "text" | ["text", ...], "normalize": true}
Response: {"embeddings": [[float, ...], ...], "dimensions": 384}
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

#: The dependencies baked in at build time (infra/models/custom.py BUILDSPEC), ahead of the image's own.
BAKED = Path(__file__).resolve().parent / "lib"
if BAKED.is_dir() and str(BAKED) not in sys.path:
    sys.path.insert(0, str(BAKED))


def model_fn(model_dir: str) -> Any:
    from sentence_transformers import SentenceTransformer  # baked into code/lib

    return SentenceTransformer(model_dir, device="cpu")


def predict_fn(data: dict[str, Any], model: Any) -> dict[str, Any]:
    inputs = data.get("inputs")
    texts = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(texts, list) or not texts or not all(isinstance(text, str) for text in texts):
        raise ValueError('expected {"inputs": "text" or ["text", ...]}')
    vectors = model.encode(texts, normalize_embeddings=bool(data.get("normalize", True)), batch_size=32)
    return {"embeddings": vectors.tolist(), "dimensions": int(vectors.shape[1])}
