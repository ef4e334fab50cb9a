"""kind cpu-llamacpp: this project's inference/ image (llama.cpp) on a CPU instance, the cheap dev
option. The image bakes models.yaml in and serves models from it by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.errors import ConfigError
from chatbot.models.deployment import CpuLlamaCppDeployment
from chatbot.models.spec import ModelSpec
from infra.models.base import Container, Site

if TYPE_CHECKING:
    from infra.components.llm import LargeLanguageModel


def check(spec: ModelSpec, site: Site) -> None:
    assert isinstance(spec.deployment, CpuLlamaCppDeployment)
    gguf = spec.deployment.gguf
    packaged = site.served.get(spec.name)
    if packaged is None or packaged.deployment.gguf != gguf:
        raise ConfigError(
            f"{site.where}.gguf: cpu-llamacpp models are served from the image's models.yaml; "
            f"add {spec.name!r} with gguf {gguf!r} there (it has {', '.join(site.served)})"
        )


def container(llm: LargeLanguageModel) -> Container:
    image = llm.args.inference_image
    if image is None:
        raise ValueError("kind cpu-llamacpp needs LargeLanguageModelArgs.inference_image")
    # The image serves models.yaml; this endpoint serves only this model from it.
    return Container(
        image=image.image_uri,
        environment={"INFERENCE_MODELS": llm.args.spec.name, **llm.args.spec.deployment.env},
        repository_arns=[image.repository_arn],
    )
