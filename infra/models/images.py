"""What the tgi and lmi kinds share: an AWS-published image family, pinned per region in
infra/components/regional.py, or a full ECR image URI of one's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chatbot.errors import ConfigError
from chatbot.models.deployment import ContainerDeployment
from chatbot.models.spec import ModelSpec
from infra.components import regional
from infra.models.base import Container, Site

if TYPE_CHECKING:
    from infra.components.llm import LargeLanguageModel


def deployment(spec: ModelSpec) -> ContainerDeployment:
    assert isinstance(spec.deployment, ContainerDeployment)
    return spec.deployment


def check_image(spec: ModelSpec, site: Site) -> None:
    image, version = deployment(spec).image or "", deployment(spec).image_version
    if image in regional.IMAGE_FAMILIES:
        try:
            regional.image_uri(image, site.region, version)
        except ConfigError as exc:
            raise ConfigError(f"{site.where}: {exc}") from None
    elif ".dkr.ecr." not in image:
        raise ConfigError(
            f"{site.where}.image: use one of {sorted(regional.IMAGE_FAMILIES)} or a full ECR image URI"
        )


def image_and_repository(spec: ModelSpec, region: str) -> tuple[str, str]:
    """The image URI and the ECR repository ARN the execution role pulls it from."""
    family = deployment(spec).image or ""
    if family in regional.IMAGE_FAMILIES:
        return (
            regional.image_uri(family, region, deployment(spec).image_version),
            regional.image_repository_arn(family, region),
        )
    return family, repository_arn_from_uri(family)  # account.dkr.ecr.region.amazonaws.com/repo:tag


def repository_arn_from_uri(uri: str) -> str:
    host, _, repository = uri.partition("/")
    account, _, rest = host.partition(".dkr.ecr.")
    region = rest.split(".")[0]
    return f"arn:aws:ecr:{region}:{account}:repository/{repository.split(':')[0].split('@')[0]}"


def serving_container(
    llm: LargeLanguageModel, environment: Callable[[ModelSpec], dict[str, str]]
) -> Container:
    """A Deep Learning Container that downloads hf_model_id at start: its image, and the
    environment the kind's server reads (`environment`), under the stack file's own `env`."""
    spec = llm.args.spec
    deployment_ = deployment(spec)
    image, repository = image_and_repository(spec, llm.args.region)
    env = {"HF_MODEL_ID": deployment_.hf_model_id or "", **environment(spec)}
    return Container(image=image, environment={**env, **deployment_.env}, repository_arns=[repository])
