"""kind embeddings: a sentence-transformers model served by this project's sentence-embeddings
script (the deployment's code_dir, that script by default), packed by CodeBuild as custom-script
packs any script; a task: embedding spec only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.errors import ConfigError
from chatbot.models.spec import ModelSpec
from infra.models import custom
from infra.models.base import Container, Site

if TYPE_CHECKING:
    from infra.components.llm import LargeLanguageModel


def check(spec: ModelSpec, site: Site) -> None:
    if spec.task != "embedding":
        raise ConfigError(f"{site.where}.kind: embeddings serves task: embedding models, not {spec.task}")
    custom.check(spec, site)


def container(llm: LargeLanguageModel) -> Container:
    return custom.container(llm)
