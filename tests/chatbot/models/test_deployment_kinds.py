"""Each deployment kind is a class of its own, picked by `kind`: code asks what a deployment is
(`isinstance`), and what a kind needs or cannot do lives on its class."""

from __future__ import annotations

import pytest

from chatbot.models.catalog import ModelCatalog
from chatbot.models.deployment import (
    SENTENCE_EMBEDDINGS_CODE,
    BedrockDeployment,
    ContainerDeployment,
    CpuLlamaCppDeployment,
    CustomScriptDeployment,
    Deployment,
    EmbeddingsDeployment,
    LmiDeployment,
    PackageDeployment,
    TgiDeployment,
    parse_deployment,
)

KINDS = [
    ({"kind": "package", "model_package_arns": {"us-east-1": "arn:x"}}, PackageDeployment),
    ({"kind": "tgi", "hf_model_id": "org/model"}, TgiDeployment),
    ({"kind": "lmi", "hf_model_id": "org/model"}, LmiDeployment),
    ({"kind": "custom-script", "code_dir": "code", "hf_model_id": "org/model"}, CustomScriptDeployment),
    ({"kind": "embeddings", "hf_model_id": "sentence-transformers/x"}, EmbeddingsDeployment),
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


@pytest.mark.parametrize(
    ("image", "kind"), [("tgi", TgiDeployment), ("lmi", LmiDeployment), (None, TgiDeployment)]
)
def test_container_is_the_older_spelling_of_tgi_and_lmi(image: str | None, kind: type):
    """Stack files and registry items written before tgi and lmi were kinds still parse; an
    image URI ran with TGI's settings, so it stays tgi."""
    uri = "111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1"
    deployment = parse_deployment({"kind": "container", "image": image or uri, "hf_model_id": "org/model"})
    assert type(deployment) is kind
    assert isinstance(deployment, ContainerDeployment)
    assert deployment.image == (image or uri)
    assert type(parse_deployment(deployment.model_dump())) is kind  # round-trips as its own kind


def test_the_embeddings_kind_packs_the_projects_sentence_embeddings_script():
    deployment = parse_deployment({"kind": "embeddings", "hf_model_id": "sentence-transformers/x"})
    assert isinstance(deployment, EmbeddingsDeployment)
    assert deployment.code_dir == SENTENCE_EMBEDDINGS_CODE


def test_an_unknown_kind_names_the_kinds_there_are():
    with pytest.raises(
        ValueError,
        match="'package', 'tgi', 'lmi', 'custom-script', 'embeddings', 'cpu-llamacpp', 'bedrock'",
    ):
        parse_deployment({"kind": "tpu"})


@pytest.mark.parametrize("kind", [PackageDeployment, BedrockDeployment])
def test_kinds_sagemaker_serverless_cannot_run_say_so(kind: type):
    fields = dict(next(fields for fields, cls in KINDS if cls is kind))
    with pytest.raises(ValueError, match="cannot run on SageMaker Serverless"):
        parse_deployment({**fields, "serverless": {"memory_mb": 1024}})
