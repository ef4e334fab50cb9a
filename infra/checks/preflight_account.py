"""Preflight's rows for what a new account lacks: CodeBuild's concurrent-build quota, CloudFront
verification, the Aurora version, and the AZ the interface endpoints and the NAT instance use.
Each is a read-only call; its answer shapes are botocore's (tests stub them with Stubber)."""

from __future__ import annotations

from typing import Any

from chatbot.errors import ConfigError
from chatbot.models.deployment import CustomScriptDeployment, EmbeddingsDeployment
from infra.checks.preflight_types import Check
from infra.components.network import choose_zones
from infra.components.vector_store import AURORA_POSTGRES_VERSIONS
from infra.config import StackConfig
from infra.program import interface_endpoints

#: The compute type the model-packaging builds use (infra/components/llm.py) as Service Quotas names it.
CODEBUILD_ENVIRONMENT = "Linux/Medium"
#: The kinds whose model a CodeBuild run packs during `pulumi up`.
BUILT_BY_CODEBUILD = (CustomScriptDeployment, EmbeddingsDeployment)
CLOUDFRONT_UNVERIFIED = "Your account must be verified before you can add new CloudFront resources"


def builds_models(config: StackConfig) -> bool:
    """custom-script and embeddings models are packed by a CodeBuild run during `pulumi up`."""
    return any(isinstance(spec.deployment, BUILT_BY_CODEBUILD) for spec in config.all_models())


def codebuild_concurrency(quotas: list[dict[str, Any]], config: StackConfig) -> Check:
    """From Service Quotas' CodeBuild list: new accounts can have 0 concurrent builds, and then
    StartBuild fails with 'Cannot have more than 0 builds in queue for the account'."""
    if not builds_models(config):
        return Check("codebuild-quota", "skip", "no custom-script model: the stack runs no build")
    wanted = CODEBUILD_ENVIRONMENT.lower()
    matches = [
        q for q in quotas if "concurrent" in q["QuotaName"].lower() and wanted in q["QuotaName"].lower()
    ]
    if not matches:
        return Check(
            "codebuild-quota",
            "warn",
            f"no concurrent-build quota for {CODEBUILD_ENVIRONMENT} listed: check it in Service Quotas "
            "(AWS CodeBuild) before pulumi up",
        )
    value = matches[0]["Value"]
    if value < 1:
        return Check(
            "codebuild-quota",
            "fail",
            f"{matches[0]['QuotaName']} is {value:g}: the model build fails with 'Cannot have more than 0 "
            "builds in queue for the account'. Request an increase in Service Quotas (AWS CodeBuild).",
        )
    return Check("codebuild-quota", "ok", f"{matches[0]['QuotaName']}: {value:g}")


def cloudfront_verification(cloudfront: Any) -> Check:
    """CloudFront refuses a new account's first distribution until AWS verifies the account, and no
    read-only call says whether it is verified: an account that already has distributions is."""
    answer = cloudfront.list_distributions(MaxItems="1")["DistributionList"]
    if answer.get("Quantity", 0) > 0:
        return Check("cloudfront-verified", "ok", "the account already has CloudFront distributions")
    return Check(
        "cloudfront-verified",
        "warn",
        "cannot be probed read-only (the account has no distribution yet). If pulumi up stops with "
        f"'{CLOUDFRONT_UNVERIFIED}', open a case with AWS Support (Account and billing) asking to verify "
        "the account for CloudFront, then run pulumi up again: it carries on from where it stopped.",
    )


def aurora_version(rds: Any, config: StackConfig) -> Check:
    """The pinned aurora-postgresql version is still offered, and runs Serverless v2 at 0 ACU."""
    search = config.semantic_search
    if not search.enabled or search.db_engine != "aurora-serverless":
        return Check("aurora-version", "skip", "no Aurora cluster in this stack")
    major = search.db_engine_version
    pinned = AURORA_POSTGRES_VERSIONS.get(major, "")
    versions: list[dict[str, Any]] = []
    paginator = rds.get_paginator("describe_db_engine_versions")
    for page in paginator.paginate(
        Engine="aurora-postgresql", DBParameterGroupFamily=f"aurora-postgresql{major}"
    ):
        versions += page["DBEngineVersions"]

    def pauses(version: dict[str, Any]) -> bool:
        support = version.get("ServerlessV2FeaturesSupport") or {}
        return support.get("MinCapacity", 1) == 0 and version.get("Status", "available") == "available"

    versions.sort(key=lambda v: [int(part) for part in v["EngineVersion"].split(".") if part.isdigit()])
    usable = [v["EngineVersion"] for v in versions if pauses(v) or search.db_min_acu > 0]
    suggestion = (
        f" The newest that does here: {usable[-1]} (AURORA_POSTGRES_VERSIONS in infra/components/vector_store.py)."
        if usable
        else ""
    )
    found = next((v for v in versions if v["EngineVersion"] == pinned), None)
    if found is None:
        return Check(
            "aurora-version",
            "fail",
            f"aurora-postgresql {pinned} is not offered in this Region (retired?).{suggestion}",
        )
    if found.get("Status", "available") != "available":
        return Check(
            "aurora-version", "fail", f"aurora-postgresql {pinned} is {found['Status']}.{suggestion}"
        )
    if search.db_min_acu == 0 and not pauses(found):
        minimum = (found.get("ServerlessV2FeaturesSupport") or {}).get("MinCapacity", "unknown")
        return Check(
            "aurora-version",
            "fail",
            f"aurora-postgresql {pinned} cannot pause at 0 ACU (its Serverless v2 minimum is {minimum}): "
            f"db_min_acu 0 needs 16.3+ or 15.7+.{suggestion}",
        )
    return Check("aurora-version", "ok", f"aurora-postgresql {pinned}, Serverless v2 down to 0 ACU")


def zone_choice(ec2: Any, config: StackConfig, region: str) -> Check:
    """The AZs the network will choose (infra.components.network.choose_zones) from the same answers."""
    services = list(interface_endpoints(config))
    zones = [
        z["ZoneName"]
        for z in ec2.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])[
            "AvailabilityZones"
        ]
    ]
    offered: dict[str, list[str]] = {}
    if services:
        names = [f"com.amazonaws.{region}.{service}" for service in services]
        details = ec2.describe_vpc_endpoint_services(ServiceNames=names)["ServiceDetails"]
        for service, name in zip(services, names, strict=True):
            offered[service] = next((d["AvailabilityZones"] for d in details if d["ServiceName"] == name), [])
    nat = config.network.nat_instance_type
    if nat:
        answer = ec2.describe_instance_type_offerings(
            LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": [nat]}]
        )
        offered[nat] = [o["Location"] for o in answer["InstanceTypeOfferings"]]
    needed = config.network.interface_endpoint_azs if services else 0
    try:
        chosen = choose_zones(zones, offered, needed)
    except ConfigError as exc:
        return Check("az-choice", "fail", str(exc))
    placed = f"; endpoints{' and the NAT instance' if nat else ''} in {', '.join(chosen[: max(needed, 1)])}"
    return Check("az-choice", "ok", f"subnets in {', '.join(chosen)}{placed if offered else ''}")
