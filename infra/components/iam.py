"""IAM policy documents, written once. Every role in the program is built from these."""

from __future__ import annotations

import json
from typing import Any

import pulumi

Statement = dict[str, Any]


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service (e.g. `lambda.amazonaws.com`) assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def allow(actions: list[str], resources: list[Any], condition: dict[str, Any] | None = None) -> Statement:
    """One Allow statement; resources may be plain strings or pulumi Outputs."""
    statement: Statement = {"Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def policy_document(statements: list[Statement]) -> pulumi.Output[str]:
    """The JSON document, once every Output inside the statements has resolved."""
    return pulumi.Output.from_input(statements).apply(
        lambda resolved: json.dumps({"Version": "2012-10-17", "Statement": resolved})
    )


def log_statements(log_group_arn: pulumi.Input[str]) -> Statement:
    """Write to one log group, nothing else."""
    return allow(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [pulumi.Output.concat(log_group_arn, ":*")],
    )


#: Lets a Lambda create and delete its network interfaces in the VPC. AWS's own managed policy:
#: the EC2 network-interface actions it grants cannot be scoped to resources.
LAMBDA_VPC_ACCESS = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
