"""Stacks built once per test session under Pulumi mocks (no CLI here: docs/REFERENCE.md).

A build leaves only plain data behind (the recorded graph), so sharing it between modules is safe."""

from __future__ import annotations

import json

import pytest

from infra.checks.offline import OfflineRun
from infra.checks.offline_stack import offline_run
from tests.infra.support import CPU_LLAMACPP_MODEL, stack_config, stack_models

#: One model of every deployment kind, to see each kind's resources in one build.
ALL_KINDS = [
    {
        "name": "marketplace-model",
        "model_id": "mistralai/Mistral-7B-Instruct-v0.3",
        "endpoint_name": "marketplace",
        "context_window": 4096,
        "deployment": {
            "kind": "package",
            "instance_type": "ml.g5.2xlarge",
            "model_package_arns": {
                "us-east-1": "arn:aws:sagemaker:us-east-1:865070037744:model-package/mistral-7b-instruct-v3"
            },
        },
    },
    {
        "name": "tgi-model",
        "model_id": "mistralai/Mistral-7B-Instruct-v0.3",
        "endpoint_name": "tgi",
        "context_window": 4096,
        "max_new_tokens_limit": 1024,
        "deployment": {
            "kind": "container",
            "image": "tgi",
            "hf_model_id": "mistralai/Mistral-7B-Instruct-v0.3",
            "instance_type": "ml.g5.2xlarge",
            "env": {"HF_MODEL_QUANTIZE": "bitsandbytes"},
            "startup_health_check_timeout_s": 900,
            "autoscaling": {"min_instances": 1, "max_instances": 4, "target_invocations_per_instance": 25},
        },
    },
    {
        "name": "lmi-model",
        "model_id": "Qwen/Qwen2.5-7B-Instruct",
        "endpoint_name": "lmi",
        "adapter": "chat-messages",
        "endpoint_req_config": "openai-chat",
        "context_window": 8192,
        "deployment": {"kind": "container", "image": "lmi", "hf_model_id": "Qwen/Qwen2.5-7B-Instruct"},
    },
    {
        "name": "script-model",
        "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "endpoint_name": "script",
        "context_window": 2048,
        "deployment": {
            "kind": "custom-script",
            "instance_type": "ml.m5.large",
            "hf_model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
            "code_dir": "runtime/sagemaker/sentence_embeddings",
        },
    },
    CPU_LLAMACPP_MODEL,
    {
        "name": "zero-model",
        "model_id": "Qwen/Qwen2.5-1.5B-Instruct",
        "endpoint_name": "zero",
        "context_window": 4096,
        "deployment": {
            "kind": "container",
            "image": "tgi",
            "hf_model_id": "Qwen/Qwen2.5-1.5B-Instruct",
            "instance_type": "ml.g6.xlarge",
            "initial_instance_count": 2,
            "scale_to_zero": True,
        },
    },
    # bedrock: a foundation model and an inference profile (dev's SageMaker one is CPU_LLAMACPP_MODEL)
    *(model for model in stack_models("dev") if model["deployment"]["kind"] == "bedrock"),
]


@pytest.fixture(scope="session")
def dev() -> OfflineRun:
    return offline_run("dev")


@pytest.fixture(scope="session")
def dev_rds() -> OfflineRun:
    """dev with its database as one RDS instance (the option to Aurora Serverless v2)."""
    search = json.loads(stack_config("dev")["chatbot:semantic_search"])
    search.update(db_engine="rds", db_instance_class="db.t4g.micro")
    return offline_run("dev", stack_config("dev", semantic_search=search))


@pytest.fixture(scope="session")
def prod() -> OfflineRun:
    return offline_run("prod")


@pytest.fixture(scope="session")
def all_kinds() -> OfflineRun:
    # With a named AWS profile, as a user with several accounts deploys.
    return offline_run("dev", {**stack_config("dev", models=ALL_KINDS), "aws:profile": "deployer"})
