"""One module per deployment kind, each holding what it takes to deploy that kind: its checks
before any resource, and its SageMaker container (infra/components/llm.py builds the endpoint around it).
The module is chosen by the deployment's class (chatbot/models/deployment.py), never by a string.

package      a model package ARN (per region), run with network isolation
tgi          an AWS-published TGI image (pinned per region) that downloads hf_model_id
lmi          an AWS-published LMI (vLLM) image, the same way
custom       CodeBuild packs hf_model_id plus code_dir into model.tar.gz; the HF PyTorch image runs it
embeddings   custom's build with this project's sentence-embeddings script
llamacpp     this project's inference/ image (llama.cpp) on a CPU instance: the cheap dev option
bedrock      nothing to deploy: the chat API's grants to call it
"""

from __future__ import annotations

from chatbot.models.deployment import (
    BedrockDeployment,
    CpuLlamaCppDeployment,
    CustomScriptDeployment,
    DeploymentBase,
    EmbeddingsDeployment,
    LmiDeployment,
    PackageDeployment,
    TgiDeployment,
)
from infra.models import bedrock, custom, embeddings, llamacpp, lmi, package, tgi
from infra.models.base import Container, Kind, Site

#: Each deployment class's module.
KINDS: dict[type[DeploymentBase], Kind] = {
    PackageDeployment: package,
    TgiDeployment: tgi,
    LmiDeployment: lmi,
    CustomScriptDeployment: custom,
    EmbeddingsDeployment: embeddings,
    CpuLlamaCppDeployment: llamacpp,
    BedrockDeployment: bedrock,
}


def kind_of(deployment: DeploymentBase) -> Kind:
    """The module that deploys this deployment's class."""
    return KINDS[type(deployment)]


__all__ = ["KINDS", "Container", "Kind", "Site", "kind_of"]
