"""What every Lambda function of the stack needs before the function itself: a log group with
retention, its own role (VPC access plus a least-privilege policy), and its dependency layer,
uploaded through S3 (PublishLayerVersion takes at most 50 MB inline; the chat API's is larger)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.build.packaging import LambdaCode
from infra.components.iam import LAMBDA_VPC_ACCESS, assume_role_policy
from infra.components.storage import secure_bucket

RUNTIME = "python3.12"


@dataclass
class FunctionBasics:
    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    #: The role's inline policy: the function must not run before it exists.
    policy: aws.iam.RolePolicy
    #: The layers to attach: the given ones, then the function's dependencies.
    layers: list[pulumi.Input[str]]


def function_basics(
    prefix: str,
    function_name: str,
    *,
    code: LambdaCode,
    log_retention_days: int,
    policy: Callable[[aws.cloudwatch.LogGroup], pulumi.Input[str]],
    parent: pulumi.Resource,
    layers: list[pulumi.Input[str]] | None = None,
    force_destroy: bool = True,
) -> FunctionBasics:
    """Children named f"{prefix}-logs", "-role", "-vpc-access", "-policy", "-artifacts" (the bucket
    the layer goes through) and "-dependencies". `policy` builds the role's policy document (it
    may grant writing to the log group)."""
    child = pulumi.ResourceOptions(parent=parent)
    log_group = aws.cloudwatch.LogGroup(
        f"{prefix}-logs",
        name=f"/aws/lambda/{function_name}",
        retention_in_days=log_retention_days,
        opts=child,
    )
    role = aws.iam.Role(
        f"{prefix}-role", assume_role_policy=assume_role_policy("lambda.amazonaws.com"), opts=child
    )
    aws.iam.RolePolicyAttachment(
        f"{prefix}-vpc-access", role=role.name, policy_arn=LAMBDA_VPC_ACCESS, opts=child
    )
    role_policy = aws.iam.RolePolicy(f"{prefix}-policy", role=role.id, policy=policy(log_group), opts=child)
    bucket = secure_bucket(f"{prefix}-artifacts", parent, force_destroy=force_destroy)
    # The key carries the zip's content hash: a new layer is a new object and a new version.
    layer_zip = aws.s3.BucketObjectv2(
        f"{prefix}-layer-zip", bucket=bucket.id, key=code.layer_key, source=code.layer, opts=child
    )
    dependencies = aws.lambda_.LayerVersion(
        f"{prefix}-dependencies",
        layer_name=f"{function_name}-dependencies",
        s3_bucket=layer_zip.bucket,
        s3_key=layer_zip.key,
        compatible_runtimes=[RUNTIME],
        compatible_architectures=["x86_64"],
        opts=child,
    )
    return FunctionBasics(log_group, role, role_policy, [*(layers or []), dependencies.arn])
