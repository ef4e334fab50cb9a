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
    spec = llm.args.spec
    deployment = images.deployment(spec)
    image, repository = images.image_and_repository(spec, llm.args.region)
    env = {
        "HF_MODEL_ID": deployment.hf_model_id or "",
        "OPTION_ROLLING_BATCH": "vllm",
        "OPTION_MAX_MODEL_LEN": str(spec.context_window),
        "TENSOR_PARALLEL_DEGREE": "max",
    }
    return Container(image=image, environment={**env, **deployment.env}, repository_arns=[repository])
