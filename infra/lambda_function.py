"""What every Lambda function of the stack needs before the function itself: a log group with
retention, its own role (VPC access plus a least-privilege policy), and its dependency layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.iam import LAMBDA_VPC_ACCESS, assume_role_policy
from infra.packaging import LambdaCode


@dataclass
class FunctionBasics:
    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    #: The layers to attach: the given ones, then the function's dependencies (when built).
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
) -> FunctionBasics:
    """Children named f"{prefix}-logs", "-role", "-vpc-access", "-policy" and "-dependencies".
    `policy` builds the role's policy document (it may grant writing to the log group)."""
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
    aws.iam.RolePolicy(f"{prefix}-policy", role=role.id, policy=policy(log_group), opts=child)
    all_layers = list(layers or [])
    if code.dependencies is not None:
        dependencies = aws.lambda_.LayerVersion(
            f"{prefix}-dependencies",
            layer_name=f"{function_name}-dependencies",
            code=code.dependencies,
            compatible_runtimes=["python3.12"],
            opts=child,
        )
        all_layers.append(dependencies.arn)
    return FunctionBasics(log_group, role, all_layers)
