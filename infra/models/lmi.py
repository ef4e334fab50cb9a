"""kind lmi: Large Model Inference (DJL serving with vLLM), which downloads hf_model_id at start
and serves OpenAI-style chat; the maintained path for GPU models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.models.spec import ModelSpec
from infra.models import images
from infra.models.base import Container, Site

if TYPE_CHECKING:
    from infra.components.llm import LargeLanguageModel


def check(spec: ModelSpec, site: Site) -> None:
    images.check_image(spec, site)


def container(llm: LargeLanguageModel) -> Container:
    return images.serving_container(
        llm,
        lambda spec: {
            "OPTION_ROLLING_BATCH": "vllm",
            "OPTION_MAX_MODEL_LEN": str(spec.context_window),
            "TENSOR_PARALLEL_DEGREE": "max",
        },
    )
