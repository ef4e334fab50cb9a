"""`python -m infra.preflight --stack dev`: what in your AWS account would stop `pulumi up`.

Run it with the credentials you deploy with (AWS_PROFILE, or the stack's `aws:profile`), before
`pulumi up`. It reads the stack's config and asks AWS, changing nothing:

| check | asks | fails when |
|---|---|---|
| lambda-concurrency | Lambda GetAccountSettings | the stack's reservation would leave under 100 unreserved |
| sagemaker-quota | Service Quotas, per endpoint instance type | the quota is below the instances the stack starts |
| rds-version | RDS DescribeOrderableDBInstanceOptions (engine postgres; RDS stacks) | the major version is not orderable on the class |
| aurora-version | RDS DescribeDBEngineVersions (engine aurora-postgresql; Aurora stacks) | the pinned version is gone, or cannot pause at 0 ACU when db_min_acu is 0 |
| az-choice | EC2 DescribeVpcEndpointServices, DescribeInstanceTypeOfferings | too few AZs offer every interface endpoint service (and the NAT instance type) |
| codebuild-quota | Service Quotas (codebuild), stacks with custom-script models | concurrent builds are 0 (new accounts) |
| cloudfront-verified | CloudFront ListDistributions | never: warns, naming the error pulumi up may meet and what to do, when it cannot tell |
| docker | `docker info` | the images cannot be built |
| bedrock-lifecycle | Bedrock GetFoundationModel, per Bedrock model | the model is LEGACY (names its end-of-life date) |
| bedrock-access | Bedrock GetFoundationModelAvailability, per Bedrock model | the account may not invoke it (access not granted, agreement pending, not in the region) |
| bedrock-profile | Bedrock GetInferenceProfile, per inference profile | it routes to a Region the chat API's role is not granted (infra/models/bedrock.py) |
| bedrock-quota | Service Quotas (bedrock), per model | its on-demand (or cross-region) requests or tokens per minute are 0; warns when low |
| sso-client-secret | Secrets Manager GetSecretValue (stacks with an OIDC `chatbot:sso`) | the client secret is missing, unreadable, or lacks `client_secret_key` |
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

from chatbot.errors import ConfigError
from chatbot.models.deployment import BedrockDeployment
from infra.checks.preflight_account import (
    aurora_version,
    builds_models,
    cloudfront_verification,
    codebuild_concurrency,
    zone_choice,
)
from infra.checks.preflight_bedrock import bedrock_checks
from infra.checks.preflight_sso import sso_client_secret
from infra.checks.preflight_types import Check
from infra.config import StackConfig

#: AWS keeps this much of an account's Lambda concurrency unreserved, whatever functions ask.
MIN_UNRESERVED = 100

__all__ = ["Check", "run_checks", "table"]


def lambda_concurrency(settings: dict[str, Any], reserved: int | None) -> Check:
    """From GetAccountSettings: may the stack reserve what it asks for?"""
    limits = settings["AccountLimit"]
    total, unreserved = limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]
    if reserved:
        if unreserved - reserved < MIN_UNRESERVED:
            return Check(
                "lambda-concurrency",
                "fail",
                f"chat_api.reserved_concurrency {reserved} would leave {unreserved - reserved} of {total} "
                f"unreserved; AWS keeps {MIN_UNRESERVED}. Remove the setting, or ask for a higher "
                "'Concurrent executions' quota in Service Quotas.",
            )
        return Check("lambda-concurrency", "ok", f"reserves {reserved}; {unreserved} of {total} unreserved")
    if total < MIN_UNRESERVED:
        return Check(
            "lambda-concurrency",
            "warn",
            f"the account runs at most {total} functions at once (a new account's limit): at most "
            f"{total} chat streams at a time. Ask for more in Service Quotas if that is too few.",
        )
    return Check("lambda-concurrency", "ok", f"no reservation; {unreserved} of {total} unreserved")


def instances_needed(config: StackConfig) -> Counter[str]:
    """Endpoint instances per instance type, at the most the stack may scale to."""
    needed: Counter[str] = Counter()
    for spec in config.all_models():
        deployment = spec.deployment
        if not deployment.on_sagemaker or deployment.serverless is not None:
            continue  # no instance: Bedrock or SageMaker Serverless Inference serves it
        scaling = deployment.autoscaling
        count = max(deployment.initial_instance_count, scaling.max_instances if scaling else 0)
        needed[deployment.instance_type] += count
    return needed


def sagemaker_quotas(quotas: list[dict[str, Any]], needed: Counter[str]) -> list[Check]:
    """From Service Quotas' SageMaker list: `<type> for endpoint usage` against what is needed."""
    by_name = {quota["QuotaName"]: quota["Value"] for quota in quotas}
    checks = []
    for instance_type, count in sorted(needed.items()):
        name = f"{instance_type} for endpoint usage"
        value = by_name.get(name)
        if value is None:
            checks.append(
                Check(
                    "sagemaker-quota",
                    "warn",
                    f"{name}: not listed for this account; check it in Service Quotas",
                )
            )
        elif value < count:
            checks.append(
                Check(
                    "sagemaker-quota",
                    "fail",
                    f"{name} is {value:g}; the stack needs {count}. Request an increase in Service Quotas "
                    "(it can take a day).",
                )
            )
        else:
            checks.append(Check("sagemaker-quota", "ok", f"{name}: {value:g} (needs {count})"))
    return checks


def rds_version(rds: Any, config: StackConfig) -> Check:
    search = config.semantic_search
    if not search.enabled or search.db_engine != "rds":
        return Check("rds-version", "skip", "no RDS instance (aurora-version covers an Aurora cluster)")
    major = search.db_engine_version
    options: list[dict[str, Any]] = []
    paginator = rds.get_paginator("describe_orderable_db_instance_options")
    for page in paginator.paginate(Engine="postgres", DBInstanceClass=search.db_instance_class):
        options += page["OrderableDBInstanceOptions"]
    orderable = sorted(
        {o["EngineVersion"] for o in options if o["EngineVersion"].split(".")[0] == major},
        key=lambda version: [int(part) for part in version.split(".") if part.isdigit()],
    )
    if not orderable:
        return Check(
            "rds-version", "fail", f"{search.db_instance_class} cannot run PostgreSQL {major} in this region"
        )
    return Check(
        "rds-version", "ok", f"PostgreSQL {major} on {search.db_instance_class} (newest {orderable[-1]})"
    )


def docker(run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> Check:
    if shutil.which("docker") is None:
        return Check("docker", "fail", "docker is not installed: the program builds two images with it")
    result = run(
        ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return Check(
            "docker", "fail", f"docker is installed but its daemon does not answer: {result.stderr.strip()}"
        )
    return Check("docker", "ok", f"daemon {result.stdout.strip()}")


def service_quotas(client: Any, service_code: str) -> list[dict[str, Any]]:
    quotas: list[dict[str, Any]] = []
    for page in client.get_paginator("list_service_quotas").paginate(ServiceCode=service_code):
        quotas += page["Quotas"]
    return quotas


def run_checks(config: StackConfig, client: Callable[[str], Any], region: str = "us-east-1") -> list[Check]:
    """Every check; `client(service)` gives a boto3 client for the stack's account and region."""
    settings = client("lambda").get_account_settings()
    checks = [lambda_concurrency(settings, config.chat_api.reserved_concurrency)]
    quotas = client("service-quotas")
    checks += sagemaker_quotas(service_quotas(quotas, "sagemaker"), instances_needed(config))
    checks.append(rds_version(client("rds"), config))
    checks.append(aurora_version(client("rds"), config))
    checks.append(zone_choice(client("ec2"), config, region))
    codebuild = service_quotas(quotas, "codebuild") if builds_models(config) else []
    checks.append(codebuild_concurrency(codebuild, config))
    checks.append(cloudfront_verification(client("cloudfront")))
    checks.append(docker())
    if any(isinstance(spec.deployment, BedrockDeployment) for spec in config.all_models()):
        checks += bedrock_checks(client("bedrock"), config, service_quotas(quotas, "bedrock"))
    else:
        checks.append(Check("bedrock-access", "skip", "no Bedrock models in this stack"))
    oidc = config.sso is not None and config.sso.provider_type == "OIDC"
    checks.append(sso_client_secret(config, client("secretsmanager") if oidc else None))
    return checks


def table(checks: list[Check]) -> str:
    width = max(len(check.name) for check in checks)
    return "\n".join(f"{check.status.upper():5} {check.name:{width}}  {check.detail}" for check in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--profile", help="AWS profile (default: the stack's aws:profile, else AWS_PROFILE)")
    args = parser.parse_args(argv)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.config import stack_file
    from infra.program import load_config

    try:
        raw = stack_file(args.stack)
        config, region = load_config(raw, args.stack)
        session = boto3.Session(
            profile_name=args.profile or raw.get("aws:profile") or None, region_name=region
        )
        checks = run_checks(config, session.client, region)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(
            f"error: AWS refused a read-only call: {exc}. Check your credentials (AWS_PROFILE).",
            file=sys.stderr,
        )
        return 2
    print(f"Preflight for stack {args.stack} in {region}:\n")
    print(table(checks))
    return 1 if any(check.status == "fail" for check in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
