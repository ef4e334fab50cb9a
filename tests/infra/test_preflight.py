"""Preflight: what in an AWS account would stop `pulumi up`, asked read-only before it.

moto answers none of the three calls (Lambda's GetAccountSettings and Service Quotas'
ListServiceQuotas are not implemented; RDS's orderable options hold only Aurora), so real boto3
clients answer through botocore's Stubber, which checks each request and response against the
services' own API models. A new account's answers (a Lambda limit of 10, a SageMaker quota of 0)
are the ones AWS documents. Only a real account proves the values themselves."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra.checks import preflight, preflight_account
from infra.checks.preflight_bedrock import bedrock_checks
from infra.components.vector_store import AURORA_POSTGRES_VERSIONS
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


def dev_on_rds() -> StackConfig:
    search = json.loads(stack_config("dev")["chatbot:semantic_search"])
    return load_config(stack_config("dev", semantic_search={**search, "db_engine": "rds"}), "dev")[0]


def test_the_rds_major_version_must_be_orderable_on_the_class():
    check = preflight.rds_version(rds_client("15.10", "16.4", "16.10"), dev_on_rds())
    assert check.status == "ok", check.detail
    assert check.detail == "PostgreSQL 16 on db.t4g.micro (newest 16.10)"
    assert preflight.rds_version(rds_client("15.10", "17.2"), dev_on_rds()).status == "fail"
    assert preflight.rds_version(None, config("dev")).status == "skip", "dev runs Aurora"


def engine_version(
    version: str, min_capacity: float | None = 0.0, status: str = "available"
) -> dict[str, Any]:
    """One DescribeDBEngineVersions entry, as RDS answers for aurora-postgresql."""
    entry: dict[str, Any] = {
        "Engine": "aurora-postgresql",
        "EngineVersion": version,
        "DBParameterGroupFamily": "aurora-postgresql16",
        "MajorEngineVersion": version.split(".")[0],
        "SupportedEngineModes": ["provisioned"],
        "Status": status,
    }
    if min_capacity is not None:
        entry["ServerlessV2FeaturesSupport"] = {"MinCapacity": min_capacity, "MaxCapacity": 256.0}
    return entry


def aurora_client(*versions: dict[str, Any]) -> Any:
    client = boto3.client("rds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_response(
        "describe_db_engine_versions",
        {"DBEngineVersions": list(versions)},
        {"Engine": "aurora-postgresql", "DBParameterGroupFamily": "aurora-postgresql16"},
    )
    stubber.activate()
    return client


def test_aurora_is_asked_about_aurora_postgresql_the_pinned_version_and_pausing_at_0_acu():
    pinned = AURORA_POSTGRES_VERSIONS["16"]
    dev = config("dev")
    ok = preflight_account.aurora_version(aurora_client(engine_version(pinned), engine_version("16.9")), dev)
    assert (ok.status, ok.detail) == ("ok", f"aurora-postgresql {pinned}, Serverless v2 down to 0 ACU")
    retired = preflight_account.aurora_version(
        aurora_client(engine_version("16.8"), engine_version("16.9")), dev
    )
    assert retired.status == "fail"
    assert f"{pinned} is not offered" in retired.detail
    assert "The newest that does here: 16.9" in retired.detail
    no_pause = preflight_account.aurora_version(aurora_client(engine_version(pinned, min_capacity=0.5)), dev)
    assert no_pause.status == "fail"
    assert "cannot pause at 0 ACU (its Serverless v2 minimum is 0.5)" in no_pause.detail


MODELS = {"nova-micro": "amazon.nova-micro-v1:0", "nova-lite": "amazon.nova-lite-v1:0"}
NAMES = {"nova-micro": "Nova Micro", "nova-lite": "Nova Lite"}


def granted(model_id: str) -> dict[str, Any]:
    return {
        "modelId": model_id,
        "agreementAvailability": {"status": "AVAILABLE"},
        "authorizationStatus": "AUTHORIZED",
        "entitlementAvailability": "AVAILABLE",
        "regionAvailability": "AVAILABLE",
    }


def foundation_model(
    model_id: str, model_name: str, *, legacy_until: datetime | None = None
) -> dict[str, Any]:
    """GetFoundationModel's answer, with modelLifecycle as AWS returns it."""
    lifecycle: dict[str, Any] = {"status": "ACTIVE"}
    if legacy_until is not None:
        lifecycle = {
            "status": "LEGACY",
            "legacyTime": datetime(2026, 1, 15, tzinfo=UTC),
            "endOfLifeTime": legacy_until,
        }
    return {
        "modelDetails": {
            "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model_id}",
            "modelId": model_id,
            "modelName": model_name,
            "providerName": "Amazon",
            "responseStreamingSupported": True,
            "inferenceTypesSupported": ["INFERENCE_PROFILE"],
            "modelLifecycle": lifecycle,
        }
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


def bedrock_quota(kind: str, unit: str, model_name: str, value: float) -> dict[str, Any]:
    return {
        "ServiceCode": "bedrock",
        "QuotaCode": f"L-{abs(hash((kind, unit, model_name))) % 10**8:08d}",
        "QuotaName": f"{kind} model inference {unit} per minute for Amazon {model_name}",
        "Value": value,
        "Unit": "None",
        "Adjustable": True,
    }


def generous_bedrock_quotas() -> list[dict[str, Any]]:
    return [
        bedrock_quota("Cross-region", unit, name, value)
        for name in NAMES.values()
        for unit, value in (("requests", 200), ("tokens", 400_000))
    ]


def bedrock_client() -> Any:
    return boto3.client("bedrock", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def stub_dev_bedrock(
    stub: Stubber,
    *,
    lite_access: dict[str, Any] | None = None,
    lite_routes=("us-east-1", "us-west-2"),
    lite_legacy_until: datetime | None = None,
):
    """Answers for dev's two models, in the order preflight asks (real botocore shapes: moto has no
    Bedrock control-plane calls for lifecycle, model access or inference profiles)."""
    for name, model_id in MODELS.items():
        lite = name == "nova-lite"
        stub.add_response(
            "get_foundation_model",
            foundation_model(model_id, NAMES[name], legacy_until=lite_legacy_until if lite else None),
            {"modelIdentifier": model_id},
        )
        access = (lite_access if lite else None) or granted(model_id)
        stub.add_response("get_foundation_model_availability", access, {"modelId": model_id})
        routes = lite_routes if lite else ("us-east-1",)
        stub.add_response(
            "get_inference_profile",
            profile("us." + model_id, *routes),
            {"inferenceProfileIdentifier": "us." + model_id},
        )


def checks_of(client: Any, quotas: list[dict[str, Any]] | None = None) -> list[preflight.Check]:
    return bedrock_checks(client, config("dev"), generous_bedrock_quotas() if quotas is None else quotas)


def test_bedrock_passes_when_every_model_is_active_granted_routed_and_has_quota():
    client = bedrock_client()
    with Stubber(client) as stub:
        stub_dev_bedrock(stub)
        checks = checks_of(client)
    assert [(c.name, c.status) for c in checks] == [
        ("bedrock-lifecycle", "ok"),
        ("bedrock-access", "ok"),
        ("bedrock-profile", "ok"),
        ("bedrock-quota", "ok"),
    ] * 2
    assert "nova-lite (cross-region): 200 requests and 400000 tokens per minute" in checks[-1].detail


def test_a_legacy_model_fails_naming_its_end_of_life_date():
    client = bedrock_client()
    with Stubber(client) as stub:
        stub_dev_bedrock(stub, lite_legacy_until=datetime(2026, 6, 19, tzinfo=UTC))
        checks = checks_of(client)
    [failed] = [c for c in checks if c.status == "fail"]
    assert failed.name == "bedrock-lifecycle"
    assert "nova-lite (amazon.nova-lite-v1:0) is LEGACY, end of life 2026-06-19" in failed.detail
    assert "ACTIVE model" in failed.detail


def test_a_new_accounts_quotas_warn_when_low_and_fail_at_zero():
    client = bedrock_client()
    low = [
        bedrock_quota("Cross-region", "requests", "Nova Micro", 2),
        bedrock_quota("Cross-region", "tokens", "Nova Micro", 4000),
        bedrock_quota("Cross-region", "requests", "Nova Lite", 0),
        bedrock_quota("Cross-region", "tokens", "Nova Lite", 0),
        bedrock_quota("On-demand", "requests", "Nova Lite", 500),  # not what a profile draws on
    ]
    with Stubber(client) as stub:
        stub_dev_bedrock(stub)
        quota_checks = [c for c in checks_of(client, low) if c.name == "bedrock-quota"]
    assert [c.status for c in quota_checks] == ["warn", "fail"]
    assert "2 requests and 4000 tokens per minute" in quota_checks[0].detail
    assert "Request an increase in Service Quotas" in quota_checks[1].detail


def test_bedrock_access_fails_with_what_to_do_when_access_is_not_granted():
    client = bedrock_client()
    refused = {
        **granted(MODELS["nova-lite"]),
        "entitlementAvailability": "NOT_AVAILABLE",
        "authorizationStatus": "NOT_AUTHORIZED",
    }
    with Stubber(client) as stub:
        stub_dev_bedrock(stub, lite_access=refused)
        checks = checks_of(client)
    [failed] = [c for c in checks if c.status == "fail"]
    assert "nova-lite" in failed.detail
    assert "model access is not granted" in failed.detail
    assert "Model access" in failed.detail


def test_a_profile_routing_beyond_the_granted_regions_fails():
    client = bedrock_client()
    with Stubber(client) as stub:
        stub_dev_bedrock(stub, lite_routes=("us-east-1", "us-west-1"))
        checks = checks_of(client)
    failed = [c for c in checks if c.status == "fail"]
    assert [c.name for c in failed] == ["bedrock-profile"]
    assert "us-west-1" in failed[0].detail
    assert "PROFILE_DESTINATIONS" in failed[0].detail


def ec2_client(
    zones=("us-east-1a", "us-east-1b", "us-east-1c"), bedrock_zones=("us-east-1b", "us-east-1c")
) -> Any:
    """EC2's answers for dev: its three interface endpoint services and the NAT instance type."""
    client = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_response(
        "describe_availability_zones",
        {
            "AvailabilityZones": [
                {"ZoneName": z, "State": "available", "RegionName": "us-east-1"} for z in zones
            ]
        },
        {"Filters": [{"Name": "state", "Values": ["available"]}]},
    )
    services = ["bedrock-runtime", "sagemaker.runtime", "secretsmanager"]
    names = [f"com.amazonaws.us-east-1.{service}" for service in services]
    stub.add_response(
        "describe_vpc_endpoint_services",
        {
            "ServiceDetails": [
                {
                    "ServiceName": name,
                    "ServiceType": [{"ServiceType": "Interface"}],
                    "AvailabilityZones": list(bedrock_zones if "bedrock" in name else zones),
                }
                for name in names
            ]
        },
        {"ServiceNames": names},
    )
    stub.add_response(
        "describe_instance_type_offerings",
        {
            "InstanceTypeOfferings": [
                {"InstanceType": "t4g.nano", "LocationType": "availability-zone", "Location": z}
                for z in zones
            ]
        },
        {"LocationType": "availability-zone", "Filters": [{"Name": "instance-type", "Values": ["t4g.nano"]}]},
    )
    stub.activate()
    return client


def test_the_az_choice_is_where_every_endpoint_service_and_the_nat_type_are_offered():
    check = preflight_account.zone_choice(ec2_client(), config("dev"), "us-east-1")
    assert (check.status, check.detail) == (
        "ok",
        "subnets in us-east-1b, us-east-1c; endpoints and the NAT instance in us-east-1b",
    )
    none = preflight_account.zone_choice(ec2_client(bedrock_zones=()), config("dev"), "us-east-1")
    assert none.status == "fail"
    assert "bedrock-runtime" in none.detail


def codebuild_quota(value: float) -> dict[str, Any]:
    return {
        "ServiceCode": "codebuild",
        "QuotaCode": "L-2DC20C30",
        "QuotaName": "Concurrently running builds for Linux/Medium environment",
        "Value": value,
        "Unit": "None",
        "Adjustable": True,
    }


def test_a_new_accounts_zero_concurrent_builds_fail_a_stack_that_builds_a_model():
    zero = preflight_account.codebuild_concurrency([codebuild_quota(0)], config("dev"))
    assert zero.status == "fail"
    assert "Cannot have more than 0 builds in queue" in zero.detail
    assert preflight_account.codebuild_concurrency([codebuild_quota(1)], config("dev")).status == "ok"
    assert preflight_account.codebuild_concurrency([], config("dev")).status == "warn"


def cloudfront_client(quantity: int) -> Any:
    client = boto3.client(
        "cloudfront", aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    )
    stub = Stubber(client)
    answer: dict[str, Any] = {"Marker": "", "MaxItems": 1, "IsTruncated": False, "Quantity": quantity}
    if quantity:
        answer["Items"] = [
            {
                "Id": "EDFDVBD6EXAMPLE",
                "ARN": "arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE",
                "Status": "Deployed",
                "LastModifiedTime": datetime(2026, 1, 1, tzinfo=UTC),
                "DomainName": "d111111abcdef8.cloudfront.net",
                "Aliases": {"Quantity": 0},
                "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "example.com"}]},
                "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "https-only"},
                "CacheBehaviors": {"Quantity": 0},
                "CustomErrorResponses": {"Quantity": 0},
                "Comment": "",
                "PriceClass": "PriceClass_100",
                "Enabled": True,
                "ViewerCertificate": {"CloudFrontDefaultCertificate": True},
                "Restrictions": {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}},
                "WebACLId": "",
                "HttpVersion": "http2",
                "IsIPV6Enabled": True,
                "Staging": False,
            }
        ]
    stub.add_response("list_distributions", {"DistributionList": answer}, {"MaxItems": "1"})
    stub.activate()
    return client


def test_cloudfront_verification_names_the_error_and_what_to_do_when_it_cannot_be_probed():
    unknown = preflight_account.cloudfront_verification(cloudfront_client(0))
    assert unknown.status == "warn"
    assert "Your account must be verified before you can add new CloudFront resources" in unknown.detail
    assert "AWS Support" in unknown.detail
    assert preflight_account.cloudfront_verification(cloudfront_client(1)).status == "ok"


def test_the_whole_preflight_reports_one_table(monkeypatch: pytest.MonkeyPatch):
    credentials = {"aws_access_key_id": "x", "aws_secret_access_key": "x", "region_name": "us-east-1"}
    lambda_client = boto3.client("lambda", **credentials)
    quotas_client = boto3.client("service-quotas", **credentials)
    with Stubber(lambda_client) as lambdas, Stubber(quotas_client) as quotas:
        lambdas.add_response("get_account_settings", account_settings(10, 10), {})
        quotas.add_response("list_service_quotas", {"Quotas": []}, {"ServiceCode": "sagemaker"})
        quotas.add_response(
            "list_service_quotas", {"Quotas": [codebuild_quota(0)]}, {"ServiceCode": "codebuild"}
        )
        quotas.add_response(
            "list_service_quotas", {"Quotas": generous_bedrock_quotas()}, {"ServiceCode": "bedrock"}
        )
        bedrock = bedrock_client()
        stubbed_bedrock = Stubber(bedrock)
        stub_dev_bedrock(stubbed_bedrock)
        stubbed_bedrock.activate()
        clients = {
            "lambda": lambda_client,
            "service-quotas": quotas_client,
            "rds": aurora_client(engine_version(AURORA_POSTGRES_VERSIONS["16"])),
            "ec2": ec2_client(),
            "cloudfront": cloudfront_client(0),
            "bedrock": bedrock,
        }
        monkeypatch.setattr(preflight.shutil, "which", lambda name: None)  # no Docker on this machine
        checks = preflight.run_checks(config("dev"), clients.__getitem__, "us-east-1")
    by_name = {check.name: check.status for check in checks}
    assert by_name == {
        "lambda-concurrency": "warn",
        "rds-version": "skip",
        "aurora-version": "ok",
        "az-choice": "ok",
        "codebuild-quota": "fail",
        "cloudfront-verified": "warn",
        "docker": "fail",
        "bedrock-lifecycle": "ok",
        "bedrock-access": "ok",
        "bedrock-profile": "ok",
        "bedrock-quota": "ok",
        "sagemaker-quota": "warn",  # dev's scale-to-zero model runs on ml.c7i.large while used
        "sso-client-secret": "skip",  # dev has no chatbot:sso
    }
    lines = preflight.table(checks).splitlines()
    assert len(lines) == len(checks)
    assert lines[0].startswith("WARN  lambda-concurrency")
