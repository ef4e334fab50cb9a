"""kind tgi: Hugging Face Text Generation Inference, which downloads hf_model_id at start and
reads its token limits from the environment."""

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
            "SM_NUM_GPUS": "1",
            "MAX_INPUT_TOKENS": str(spec.context_window - spec.max_new_tokens_limit),
            "MAX_TOTAL_TOKENS": str(spec.context_window),
        },
    )
