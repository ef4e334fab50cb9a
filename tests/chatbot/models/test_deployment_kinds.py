"""Each deployment kind is a class of its own, picked by `kind`: code asks what a deployment is
(`isinstance`), and what a kind needs or cannot do lives on its class."""

from __future__ import annotations

import pytest

from chatbot.models.catalog import ModelCatalog
from chatbot.models.deployment import (
    BedrockDeployment,
    ContainerDeployment,
    CpuLlamaCppDeployment,
    CustomScriptDeployment,
    Deployment,
    PackageDeployment,
    parse_deployment,
)

KINDS = [
    ({"kind": "package", "model_package_arns": {"us-east-1": "arn:x"}}, PackageDeployment),
    ({"kind": "container", "image": "tgi", "hf_model_id": "org/model"}, ContainerDeployment),
    ({"kind": "custom-script", "code_dir": "code", "hf_model_id": "org/model"}, CustomScriptDeployment),
    ({"kind": "cpu-llamacpp", "gguf": "smollm2"}, CpuLlamaCppDeployment),
    ({"kind": "bedrock", "model_id": "amazon.nova-micro-v1:0"}, BedrockDeployment),
]


@pytest.mark.parametrize(("fields", "kind"), KINDS, ids=[fields["kind"] for fields, _ in KINDS])
def test_each_kind_parses_into_its_own_class(fields: dict, kind: type):
    assert type(parse_deployment(fields)) is kind
    assert type(Deployment(**fields)) is kind  # callers written for the one class it was


def test_the_catalogs_models_have_the_classes_of_their_kinds(catalog: ModelCatalog):
    kinds = {spec.name: type(spec.deployment) for spec in catalog}
    assert kinds["smollm2-135m"] is CpuLlamaCppDeployment
    assert kinds["smollm2-135m-bedrock"] is BedrockDeployment


def test_an_unknown_kind_names_the_kinds_there_are():
    with pytest.raises(
        ValueError, match="'package', 'container', 'custom-script', 'cpu-llamacpp', 'bedrock'"
    ):
        parse_deployment({"kind": "tgi"})


@pytest.mark.parametrize("kind", [PackageDeployment, BedrockDeployment])
def test_kinds_sagemaker_serverless_cannot_run_say_so(kind: type):
    fields = dict(next(fields for fields, cls in KINDS if cls is kind))
    with pytest.raises(ValueError, match="cannot run on SageMaker Serverless"):
        parse_deployment({**fields, "serverless": {"memory_mb": 1024}})
