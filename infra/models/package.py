"""kind package: a SageMaker model package (e.g. AWS Marketplace) by its regional ARN, run with
network isolation (it is third-party code)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbot.errors import ConfigError
from chatbot.models.deployment import PackageDeployment
from chatbot.models.spec import ModelSpec
from infra.models.base import Container, Site

if TYPE_CHECKING:
    from infra.components.llm import LargeLanguageModel


def _deployment(spec: ModelSpec) -> PackageDeployment:
    assert isinstance(spec.deployment, PackageDeployment)
    return spec.deployment


def check(spec: ModelSpec, site: Site) -> None:
    if site.region not in _deployment(spec).model_package_arns:
        raise ConfigError(
            f"{site.where}.model_package_arns: no ARN for {site.region} (model packages are regional)"
        )


def container(llm: LargeLanguageModel) -> Container:
    spec, region = llm.args.spec, llm.args.region
    arns = _deployment(spec).model_package_arns
    if region not in arns:
        raise ConfigError(
            f"model {spec.name!r}: deployment.model_package_arns has no ARN for "
            f"{region} (it has {', '.join(arns) or 'none'})"
        )
    return Container(
        image=None,
        environment={},
        repository_arns=[],
        model_package_name=arns[region],
        network_isolation=True,
    )
