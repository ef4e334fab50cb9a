"""Bedrock models in the stack: no endpoint resource, a registry item, and an Invoke grant on
exactly their foundation-model and inference-profile ARNs (a profile's models only through it)."""

from __future__ import annotations

import json

import pytest

from chatbot.errors import ConfigError
from infra.checks import pricing
from infra.checks.offline import ACCOUNT_ID, OfflineRun
from infra.checks.offline_stack import offline_run
from infra.checks.policies import Context, evaluate
from infra.models.bedrock import INVOKE_ACTIONS, PROFILE_DESTINATIONS, BedrockModelId
from tests.infra.support import one, stack_config, stack_models

PROFILE = "us.amazon.nova-lite-v1:0"
FOUNDATION = "amazon.nova-lite-v1:0"


def bedrock_model(name: str, model_id: str) -> dict:
    return {
        "name": name,
        "model_id": name,
        "context_window": 8192,
        "deployment": {"kind": "bedrock", "model_id": model_id},
    }


def chat_statements(run: OfflineRun) -> list[dict]:
    return json.loads(one(run.graph, "aws:iam/rolePolicy:RolePolicy", "chat-policy").inputs["policy"])[
        "Statement"
    ]


def test_dev_chats_with_bedrock_models_and_deploys_no_endpoint_for_them(dev: OfflineRun):
    models = {model["name"]: model["deployment"] for model in stack_models("dev")}
    assert {name for name, deployment in models.items() if deployment["kind"] != "bedrock"} == {
        "smollm2-135m"
    }
    assert models["smollm2-135m"]["scale_to_zero"] is True  # the one SageMaker chat model: $0 at idle
    endpoints = {e.inputs["name"] for e in dev.graph.of_type("aws:sagemaker/endpoint:Endpoint")}
    assert endpoints == {"minilm-l6-dev", "smollm2-135m-dev"}, "no endpoint for the Bedrock models"
    registered = {spec.name for spec in pricing.registered_models(dev.graph)}
    assert {"nova-micro", "nova-lite"} <= registered


def test_the_chat_role_invokes_exactly_the_stacks_bedrock_models(dev: OfflineRun):
    grants = [s for s in chat_statements(dev) if any(a.startswith("bedrock:") for a in s["Action"])]
    assert all(sorted(s["Action"]) == sorted(INVOKE_ACTIONS) for s in grants)
    direct = next(s for s in grants if "Condition" not in s)
    assert sorted(direct["Resource"]) == sorted(
        f"arn:aws:bedrock:us-east-1:{ACCOUNT_ID}:inference-profile/{model_id}"
        for model_id in ("us.amazon.nova-micro-v1:0", PROFILE)
    )
    through_profile = {
        s["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"]: sorted(s["Resource"])
        for s in grants
        if "Condition" in s
    }
    assert through_profile[f"arn:aws:bedrock:us-east-1:{ACCOUNT_ID}:inference-profile/{PROFILE}"] == sorted(
        f"arn:aws:bedrock:{region}::foundation-model/{FOUNDATION}" for region in PROFILE_DESTINATIONS["us"]
    )


def test_a_foundation_model_id_is_granted_in_the_stacks_region_only():
    run = offline_run("dev", stack_config("dev", models=[bedrock_model("haiku", FOUNDATION)]))
    grants = [s for s in chat_statements(run) if any(a.startswith("bedrock:") for a in s["Action"])]
    assert grants == [
        {
            "Effect": "Allow",
            "Action": INVOKE_ACTIONS,
            "Resource": [f"arn:aws:bedrock:us-east-1::foundation-model/{FOUNDATION}"],
        }
    ]
    assert [
        v
        for verdict in evaluate(run.graph, Context(production=False))
        for v in verdict.violations
        if v.rule == "bedrock-invoke-scoped"
    ] == []


def test_a_profile_from_outside_its_geography_or_a_global_one_fails_before_any_resource():
    with pytest.raises(ConfigError, match="eu. inference profile is not offered in us-east-1"):
        offline_run("dev", stack_config("dev", models=[bedrock_model("x", "eu." + FOUNDATION)]))
    with pytest.raises(ConfigError, match="global inference profiles"):
        BedrockModelId.parse("global." + FOUNDATION)


def test_the_plan_prices_bedrock_per_1k_tokens_and_shows_nothing_at_idle(dev: OfflineRun):
    lines = {line.item: line for line in pricing.estimate(dev.graph)}
    lite = lines["Bedrock model nova-lite"]
    assert lite.monthly_usd == 0
    assert "$6e-05 per 1k input, $0.00024 per 1k output tokens" in lite.detail
    assert "no token price" not in lines["Bedrock model nova-micro"].detail
