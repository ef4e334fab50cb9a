"""Preflight: what in an AWS account would stop `pulumi up`, asked read-only before it.

moto answers none of the three calls (Lambda's GetAccountSettings and Service Quotas'
ListServiceQuotas are not implemented; RDS's orderable options hold only Aurora), so real boto3
clients answer through botocore's Stubber, which checks each request and response against the
services' own API models. A new account's answers (a Lambda limit of 10, a SageMaker quota of 0)
are the ones AWS documents. Only a real account proves the values themselves."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra import preflight
from infra.config import StackConfig
from infra.program import load_config
from tests.infra.support import stack_config


def account_settings(total: int, unreserved: int) -> dict[str, Any]:
    return {
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": total,
            "UnreservedConcurrentExecutions": unreserved,
        },
        "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
    }


def quota(instance_type: str, value: float) -> dict[str, Any]:
    return {
        "ServiceCode": "sagemaker",
        "QuotaCode": "L-0000000" + str(len(instance_type) % 10),
        "QuotaName": f"{instance_type} for endpoint usage",
        "Value": value,
        "Unit": "None",
        "Adjustable": True,
    }


def config(stack: str) -> StackConfig:
    return load_config(stack_config(stack), stack)[0]


def test_a_reservation_that_leaves_under_100_unreserved_fails():
    check = preflight.lambda_concurrency(account_settings(10, 10), reserved=5)
    assert check.status == "fail"
    assert "Remove the setting" in check.detail
    assert preflight.lambda_concurrency(account_settings(1000, 1000), reserved=50).status == "ok"


def test_without_a_reservation_a_new_accounts_small_limit_is_a_warning_only():
    assert preflight.lambda_concurrency(account_settings(10, 10), reserved=None).status == "warn"
    assert preflight.lambda_concurrency(account_settings(1000, 1000), reserved=None).status == "ok"


def test_sagemaker_quotas_are_compared_with_the_instances_each_type_may_scale_to():
    prod = config("prod")
    needed = preflight.instances_needed(prod)
    assert needed["ml.g5.2xlarge"] == 3  # autoscaling max_instances
    checks = preflight.sagemaker_quotas([quota("ml.g5.2xlarge", 0), quota("ml.c5.large", 2)], needed)
    assert [(c.status, c.detail.split(" ")[0]) for c in checks] == [
        ("ok", "ml.c5.large"),
        ("fail", "ml.g5.2xlarge"),
    ]
    assert "Request an increase" in checks[1].detail


def orderable(*versions: str, instance_class: str = "db.t4g.micro") -> dict[str, Any]:
    return {
        "OrderableDBInstanceOptions": [
            {"Engine": "postgres", "EngineVersion": version, "DBInstanceClass": instance_class}
            for version in versions
        ]
    }


def rds_client(*versions: str) -> Any:
    client = boto3.client("rds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_response(
        "describe_orderable_db_instance_options",
        orderable(*versions),
        {"Engine": "postgres", "DBInstanceClass": "db.t4g.micro"},
    )
    stubber.activate()
    return client


def test_the_rds_major_version_must_be_orderable_on_the_class():
    check = preflight.rds_version(rds_client("15.10", "16.4", "16.10"), config("dev"))
    assert check.status == "ok", check.detail
    assert check.detail == "PostgreSQL 16 on db.t4g.micro (newest 16.10)"
    assert preflight.rds_version(rds_client("15.10", "17.2"), config("dev")).status == "fail"


HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
GRANTED = {
    "modelId": HAIKU,
    "agreementAvailability": {"status": "AVAILABLE"},
    "authorizationStatus": "AUTHORIZED",
    "entitlementAvailability": "AVAILABLE",
    "regionAvailability": "AVAILABLE",
}


def profile(model_id: str, *regions: str) -> dict[str, Any]:
    foundation = model_id.split(".", 1)[1]
    return {
        "inferenceProfileName": model_id,
        "inferenceProfileArn": f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{model_id}",
        "inferenceProfileId": model_id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
        "models": [{"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{foundation}"} for r in regions],
    }


def bedrock_client() -> Any:
    return boto3.client("bedrock", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def stub_dev_bedrock(stub: Stubber, haiku: dict[str, Any] = GRANTED, haiku_routes=("us-east-1", "us-west-2")):
    """Answers for dev's two models, in the order preflight asks (real botocore shapes: moto has no
    Bedrock control-plane calls for model access or inference profiles)."""
    nova = "amazon.nova-micro-v1:0"
    stub.add_response("get_foundation_model_availability", {**GRANTED, "modelId": nova}, {"modelId": nova})
    stub.add_response(
        "get_inference_profile",
        profile("us." + nova, "us-east-1"),
        {"inferenceProfileIdentifier": "us." + nova},
    )
    stub.add_response("get_foundation_model_availability", haiku, {"modelId": HAIKU})
    stub.add_response(
        "get_inference_profile",
        profile("us." + HAIKU, *haiku_routes),
        {"inferenceProfileIdentifier": "us." + HAIKU},
    )


def test_bedrock_access_passes_when_every_model_is_granted_and_routes_are_covered():
    client = bedrock_client()
    with Stubber(client) as stub:
        stub_dev_bedrock(stub)
        checks = preflight.bedrock_access(client, config("dev"))
    assert [(c.name, c.status) for c in checks] == [
        ("bedrock-access", "ok"),
        ("bedrock-profile", "ok"),
        ("bedrock-access", "ok"),
        ("bedrock-profile", "ok"),
    ]


def test_bedrock_access_fails_with_what_to_do_when_access_is_not_granted():
    client = bedrock_client()
    refused = {**GRANTED, "entitlementAvailability": "NOT_AVAILABLE", "authorizationStatus": "NOT_AUTHORIZED"}
    with Stubber(client) as stub:
        stub_dev_bedrock(stub, haiku=refused)
        checks = preflight.bedrock_access(client, config("dev"))
    failed = [c for c in checks if c.status == "fail"]
    assert len(failed) == 1
    assert "claude-3.5-haiku" in failed[0].detail
    assert "model access is not granted" in failed[0].detail
    assert "Model access" in failed[0].detail


def test_a_profile_routing_beyond_the_granted_regions_fails():
    client = bedrock_client()
    with Stubber(client) as stub:
        stub_dev_bedrock(stub, haiku_routes=("us-east-1", "us-west-1"))
        checks = preflight.bedrock_access(client, config("dev"))
    failed = [c for c in checks if c.status == "fail"]
    assert [c.name for c in failed] == ["bedrock-profile"]
    assert "us-west-1" in failed[0].detail
    assert "PROFILE_DESTINATIONS" in failed[0].detail


def test_the_whole_preflight_reports_one_table(monkeypatch: pytest.MonkeyPatch):
    credentials = {"aws_access_key_id": "x", "aws_secret_access_key": "x", "region_name": "us-east-1"}
    lambda_client = boto3.client("lambda", **credentials)
    quotas_client = boto3.client("service-quotas", **credentials)
    with Stubber(lambda_client) as lambdas, Stubber(quotas_client) as quotas:
        lambdas.add_response("get_account_settings", account_settings(10, 10), {})
        quotas.add_response(
            "list_service_quotas",
            {"Quotas": [quota("ml.c7i.large", 1), quota("ml.t2.medium", 1)]},
            {"ServiceCode": "sagemaker"},
        )
        bedrock = bedrock_client()
        stubbed_bedrock = Stubber(bedrock)
        stub_dev_bedrock(stubbed_bedrock)
        stubbed_bedrock.activate()
        clients = {
            "lambda": lambda_client,
            "service-quotas": quotas_client,
            "rds": rds_client("16.10"),
            "bedrock": bedrock,
        }
        monkeypatch.setattr(preflight.shutil, "which", lambda name: None)  # no Docker on this machine
        checks = preflight.run_checks(config("dev"), clients.__getitem__)
    by_name = {check.name: check.status for check in checks}
    assert by_name == {
        "lambda-concurrency": "warn",
        "rds-version": "ok",
        "docker": "fail",
        "bedrock-access": "ok",
        "bedrock-profile": "ok",
    }
    lines = preflight.table(checks).splitlines()
    assert len(lines) == len(checks)
    assert lines[0].startswith("WARN  lambda-concurrency")
