"""What every kind module provides, and what they share: the SageMaker model's container, the
place a check reports against, and the registry item every deployed model writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pulumi

from chatbot.models import registry
from chatbot.models.spec import ModelSpec

if TYPE_CHECKING:
    from infra.components.llm import LargeLanguageModel


@dataclass(frozen=True)
class Container:
    """A SageMaker model's primary container, and what its execution role needs for it."""

    image: pulumi.Input[str] | None
    environment: dict[str, str]
    #: ECR repositories the role may pull from (AWS's or ours).
    repository_arns: list[pulumi.Input[str]]
    model_data_url: pulumi.Input[str] | None = None
    model_package_name: str | None = None
    #: Extra statements for the execution role (e.g. reading model.tar.gz).
    statements: tuple[dict[str, Any], ...] = ()
    #: Third-party code (a model package) must not reach the network.
    network_isolation: bool = False


@dataclass(frozen=True)
class Site:
    """Where a deployment is checked: the stack's region, the project on disk, and the models the
    inference image serves (its models.yaml); `where` prefixes every error."""

    region: str
    root: Path
    where: str
    served: dict[str, ModelSpec] = field(default_factory=dict)


class Kind(Protocol):
    """A kind module: infra/models/<kind>.py."""

    def check(self, spec: ModelSpec, site: Site) -> None:
        """What the schema cannot know (the region, files on disk); raises ConfigError."""

    def container(self, llm: LargeLanguageModel) -> Container:
        """The SageMaker model's container, with any resources it takes as children of `llm`."""


def registry_item(spec: ModelSpec, deployed_endpoint_name: str) -> str:
    """The models-table row, in DynamoDB JSON: the registry's own item (chatbot/models/registry.py)
    for the spec with its deployed endpoint name."""
    deployed = spec.model_copy(update={"endpoint_name": deployed_endpoint_name})
    return registry.as_dynamodb_json(registry.registry_item(deployed))
