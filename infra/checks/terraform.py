"""The mocked resource graph as Terraform JSON, for the real AWS provider to check offline.

pulumi-aws is bridged from the Terraform AWS provider, so `terraform validate` over the same
resources applies the schema and validators `pulumi up` meets: required arguments, enums,
ConflictsWith, ARN and name formats. Mocks check none of these.

    python -m infra.terraform --stack dev      # renders .data/terraform/dev and runs validate

Names: a Pulumi type token maps to a Terraform type (TYPES, one table); argument names are the
snake_case of Pulumi's, where Pulumi pluralised a repeated block (`attributes` -> `attribute`) the
provider's schema decides, and the few arguments Pulumi renamed are in RENAMED. Needs
/usr/local/bin/terraform and the provider (hashicorp/aws 5.100.0) in a filesystem mirror.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from infra.checks.offline import RecordedResource, ResourceGraph
from infra.config import PROJECT_ROOT

PROVIDER_VERSION = "5.100.0"
PLUGIN_MIRROR = Path(os.environ.get("CHATBOT_TF_PLUGINS", "/opt/tf-plugins"))
WORK_DIR = PROJECT_ROOT / ".data" / "terraform"

#: Pulumi type token -> Terraform resource type, for every AWS type the program creates.
TYPES = {
    "aws:appautoscaling/policy:Policy": "aws_appautoscaling_policy",
    "aws:appautoscaling/target:Target": "aws_appautoscaling_target",
    "aws:cloudfront/distribution:Distribution": "aws_cloudfront_distribution",
    "aws:cloudfront/function:Function": "aws_cloudfront_function",
    "aws:cloudfront/originAccessControl:OriginAccessControl": "aws_cloudfront_origin_access_control",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "aws_cloudwatch_metric_alarm",
    "aws:budgets/budget:Budget": "aws_budgets_budget",
    "aws:sns/topic:Topic": "aws_sns_topic",
    "aws:sns/topicPolicy:TopicPolicy": "aws_sns_topic_policy",
    "aws:sns/topicSubscription:TopicSubscription": "aws_sns_topic_subscription",
    "aws:codebuild/project:Project": "aws_codebuild_project",
    "aws:cognito/identityProvider:IdentityProvider": "aws_cognito_identity_provider",
    "aws:cognito/userPool:UserPool": "aws_cognito_user_pool",
    "aws:cognito/userPoolClient:UserPoolClient": "aws_cognito_user_pool_client",
    "aws:cognito/userPoolDomain:UserPoolDomain": "aws_cognito_user_pool_domain",
    "aws:dynamodb/table:Table": "aws_dynamodb_table",
    "aws:dynamodb/tableItem:TableItem": "aws_dynamodb_table_item",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/instance:Instance": "aws_instance",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/route:Route": "aws_route",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "aws_vpc_endpoint",
    "aws:ecr/repository:Repository": "aws_ecr_repository",
    "aws:ecs/cluster:Cluster": "aws_ecs_cluster",
    "aws:ecs/service:Service": "aws_ecs_service",
    "aws:ecs/taskDefinition:TaskDefinition": "aws_ecs_task_definition",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:lambda/eventSourceMapping:EventSourceMapping": "aws_lambda_event_source_mapping",
    "aws:lambda/function:Function": "aws_lambda_function",
    "aws:lambda/functionUrl:FunctionUrl": "aws_lambda_function_url",
    "aws:lambda/invocation:Invocation": "aws_lambda_invocation",
    "aws:lambda/layerVersion:LayerVersion": "aws_lambda_layer_version",
    "aws:lambda/permission:Permission": "aws_lambda_permission",
    "aws:lb/listener:Listener": "aws_lb_listener",
    "aws:lb/listenerRule:ListenerRule": "aws_lb_listener_rule",
    "aws:lb/loadBalancer:LoadBalancer": "aws_lb",
    "aws:lb/targetGroup:TargetGroup": "aws_lb_target_group",
    "aws:rds/instance:Instance": "aws_db_instance",
    "aws:rds/cluster:Cluster": "aws_rds_cluster",
    "aws:rds/clusterInstance:ClusterInstance": "aws_rds_cluster_instance",
    "aws:rds/subnetGroup:SubnetGroup": "aws_db_subnet_group",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketNotification:BucketNotification": "aws_s3_bucket_notification",
    "aws:s3/bucketObjectv2:BucketObjectv2": "aws_s3_object",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "aws_s3_bucket_public_access_block",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "aws_s3_bucket_server_side_encryption_configuration"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "aws_s3_bucket_versioning",
    "aws:sagemaker/endpoint:Endpoint": "aws_sagemaker_endpoint",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": "aws_sagemaker_endpoint_configuration",
    "aws:sagemaker/model:Model": "aws_sagemaker_model",
    "aws:scheduler/schedule:Schedule": "aws_scheduler_schedule",
    "aws:secretsmanager/secret:Secret": "aws_secretsmanager_secret",
    "aws:secretsmanager/secretVersion:SecretVersion": "aws_secretsmanager_secret_version",
    "aws:sqs/queue:Queue": "aws_sqs_queue",
    "aws:sqs/queuePolicy:QueuePolicy": "aws_sqs_queue_policy",
    "aws:wafv2/webAcl:WebAcl": "aws_wafv2_web_acl",
}
#: Resources with no AWS provider counterpart: built by other providers or by the program itself.
NOT_AWS = ("awsx:", "random:", "pulumi-python:dynamic", "pulumi:providers:")
#: Arguments Pulumi renamed from the provider's (Terraform type -> Pulumi snake_case -> Terraform).
RENAMED: dict[str, dict[str, str]] = {
    "aws_lambda_function": {"name": "function_name", "code": "filename"},
    "aws_cloudwatch_metric_alarm": {"name": "alarm_name"},
    "aws_lambda_layer_version": {"code": "filename"},
    "aws_lambda_permission": {"function": "function_name"},
}


def _gsi_hash_and_range_keys(inputs: dict[str, Any]) -> dict[str, Any]:
    """pulumi-aws 7 (provider 6) writes a GSI's keys as `keySchemas`; provider 5.100 (the one here)
    takes `hash_key`/`range_key`. The same index, in the older provider's words."""
    indexes = []
    for index in inputs.get("globalSecondaryIndexes") or []:
        keys = {key["keyType"]: key["attributeName"] for key in index.get("keySchemas", [])}
        rest = {name: value for name, value in index.items() if name != "keySchemas"}
        indexes.append({**rest, "hashKey": keys.get("HASH"), "rangeKey": keys.get("RANGE")})
    return {**inputs, "globalSecondaryIndexes": indexes} if indexes else inputs


def _inference_component_endpoint(inputs: dict[str, Any]) -> dict[str, Any]:
    """Provider 6 added an endpoint config's `execution_role_arn` and made a variant's `model_name`
    optional, for endpoints that run inference components (scale_to_zero models); 5.100 knows
    neither. The role is checked by the IAM tests; a stand-in model name keeps the rest checked."""
    variants = [
        {**variant, "modelName": variant.get("modelName") or "inference-components"}
        for variant in inputs.get("productionVariants") or []
    ]
    rest = {name: value for name, value in inputs.items() if name != "executionRoleArn"}
    return {**rest, "productionVariants": variants} if variants else rest


#: The rare differences between the provider pulumi-aws 7 bundles (6.x) and 5.100, per type.
PROVIDER_5_COMPAT = {
    "aws_dynamodb_table": _gsi_hash_and_range_keys,
    "aws_sagemaker_endpoint_configuration": _inference_component_endpoint,
}


@dataclass
class Rendered:
    document: dict[str, Any]
    #: Inputs with no place in the provider's schema: a finding of their own.
    unmapped: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _singulars(name: str) -> list[str]:
    forms = []
    if name.endswith("ies"):
        forms.append(name[:-3] + "y")
    if name.endswith("es"):
        forms.append(name[:-2])
    if name.endswith("s"):
        forms.append(name[:-1])
    return forms


def _scalar(value: Any) -> Any:
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        return value.path
    if isinstance(value, pulumi.StringAsset):
        return value.text
    return value


def _convert_block(
    inputs: dict[str, Any],
    block: dict[str, Any],
    where: str,
    rendered: Rendered,
    renames: dict[str, str],
    auto_name: str = "",
) -> dict[str, Any]:
    attributes = block.get("attributes", {})
    blocks = block.get("block_types", {})
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if value is None or key.startswith("__"):
            continue
        name = renames.get(snake(key), snake(key))
        if isinstance(value, pulumi.StringAsset) and name == "source":
            name = "content"  # an inline body, not a file
        candidates = [name, *_singulars(name)]
        target = next((c for c in candidates if c in attributes or c in blocks), None)
        if target is None:
            rendered.unmapped.append(f"{where}.{key}")
            continue
        if target in blocks:
            nested = blocks[target]["block"]
            items = value if isinstance(value, list) else [value]
            out[target] = [
                _convert_block(item, nested, f"{where}.{key}", rendered, {})
                for item in items
                if isinstance(item, dict)
            ]
        else:
            out[target] = _convert_value(value, attributes[target]["type"])
    # Pulumi names a resource itself (auto-naming) where the provider requires a name.
    if auto_name and attributes.get("name", {}).get("required") and "name" not in out:
        out["name"] = auto_name
    return out


def _convert_value(value: Any, tf_type: Any) -> Any:
    """A value for an attribute of `tf_type`: objects get snake_case keys and every attribute of
    their type (Terraform JSON wants them all, null when unset); maps keep their keys."""
    if isinstance(tf_type, list) and tf_type[0] in ("list", "set") and isinstance(value, list):
        return [_convert_value(item, tf_type[1]) for item in value]
    if isinstance(tf_type, list) and tf_type[0] == "object" and isinstance(value, dict):
        fields = tf_type[1]
        converted = {snake(key): item for key, item in value.items()}
        return {name: _convert_value(converted.get(name), fields[name]) for name in fields}
    return _scalar(value)


def render(graph: ResourceGraph, schema: dict[str, Any], region: str) -> Rendered:
    """Terraform JSON for every AWS resource of `graph`, checked by name against `schema`."""
    resource_schemas = schema["provider_schemas"]["registry.terraform.io/hashicorp/aws"]["resource_schemas"]
    rendered = Rendered(
        {
            "terraform": {
                "required_providers": {"aws": {"source": "hashicorp/aws", "version": PROVIDER_VERSION}}
            },
            "provider": {
                "aws": {
                    "region": region,
                    "access_key": "offline",
                    "secret_key": "offline",
                    "skip_credentials_validation": True,
                    "skip_requesting_account_id": True,
                    "skip_metadata_api_check": True,
                }
            },
            "resource": {},
        }
    )
    for resource in graph.resources:
        if not resource.custom or resource.type.startswith(NOT_AWS):
            rendered.skipped.append(resource.type)
            continue
        tf_type = TYPES.get(resource.type)
        if tf_type is None:
            rendered.unmapped.append(
                f"{resource.type} (no Terraform type in infra/checks/terraform.py TYPES)"
            )
            continue
        inputs = PROVIDER_5_COMPAT.get(tf_type, dict)(dict(resource.inputs))
        body = _convert_block(
            inputs,
            resource_schemas[tf_type]["block"],
            resource.name,
            rendered,
            RENAMED.get(tf_type, {}),
            auto_name=resource.physical_name,
        )
        rendered.document["resource"].setdefault(tf_type, {})[_tf_name(resource)] = body
    return rendered


def _tf_name(resource: RecordedResource) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", resource.name)


# --- running terraform --------------------------------------------------------------------------


def unavailable() -> str | None:
    """Why terraform cannot validate here, or None."""
    if shutil.which("terraform") is None:
        return "terraform is not on PATH"
    provider = PLUGIN_MIRROR / "registry.terraform.io" / "hashicorp" / "aws" / PROVIDER_VERSION
    if not provider.is_dir():
        return f"the hashicorp/aws {PROVIDER_VERSION} provider is not in {PLUGIN_MIRROR}"
    return None


def _terraform(folder: Path, *args: str) -> subprocess.CompletedProcess:
    cli_config = WORK_DIR / "cli.tfrc"
    cli_config.parent.mkdir(parents=True, exist_ok=True)
    cli_config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{PLUGIN_MIRROR}"\n  }}\n}}\n'
    )
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    return subprocess.run(
        ["terraform", *args], cwd=folder, env=env, capture_output=True, text=True, check=False
    )


def init(folder: Path, document: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.tf.json").write_text(json.dumps(document, indent=1, default=str))
    if not (folder / ".terraform").is_dir():
        result = _terraform(folder, "init", "-input=false", "-no-color", "-backend=false")
        if result.returncode != 0:
            raise RuntimeError(f"terraform init failed:\n{result.stdout}\n{result.stderr}")


def provider_schema() -> dict[str, Any]:
    """The provider's schema (`terraform providers schema -json`), cached under .data/terraform."""
    cached = WORK_DIR / f"aws-{PROVIDER_VERSION}-schema.json"
    if not cached.exists():
        folder = WORK_DIR / "schema"
        init(
            folder,
            {
                "terraform": {
                    "required_providers": {"aws": {"source": "hashicorp/aws", "version": PROVIDER_VERSION}}
                }
            },
        )
        result = _terraform(folder, "providers", "schema", "-json")
        if result.returncode != 0:
            raise RuntimeError(f"terraform providers schema failed:\n{result.stderr}")
        cached.write_text(result.stdout)
    return json.loads(cached.read_text())


def validate(document: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    """`terraform validate` of the document; returns its diagnostics (empty: valid)."""
    init(folder, document)
    result = _terraform(folder, "validate", "-json", "-no-color")
    return json.loads(result.stdout).get("diagnostics", [])


def findings(diagnostics: list[dict[str, Any]]) -> list[str]:
    return [
        f"{d['severity']}: {d['summary']}: {d.get('detail', '').strip()} "
        f"({d.get('snippet', {}).get('context') or d.get('address', '')})"
        for d in diagnostics
        if d["severity"] == "error"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="terraform validate of a stack's mocked graph")
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args(argv)
    if reason := unavailable():
        print(f"skipped: {reason}", file=sys.stderr)
        return 2
    from infra.checks.offline_stack import offline_run
    from infra.config import stack_file

    raw = stack_file(args.stack)
    run = offline_run(args.stack, raw)
    rendered = render(run.graph, provider_schema(), str(raw.get("aws:region", "us-east-1")))
    problems = [f"unmapped input: {item}" for item in rendered.unmapped]
    problems += findings(validate(rendered.document, WORK_DIR / args.stack))
    print("\n".join(problems) or f"terraform validate: the {args.stack} stack's graph is valid")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
