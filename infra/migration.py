"""The database's migrations, run once per deploy: a function on the indexer's code and layer
(handler lambdas.document_indexer.migrate.handler) with the master secret, invoked by the program
(aws.lambda_.Invocation) after the database exists and whenever the code changes. The chat API and
the indexer then never migrate at a cold start, so none of them waits on a paused Aurora cluster
before its first request that needs it (chatbot/postgres.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.iam import LAMBDA_VPC_ACCESS, allow, assume_role_policy, log_statements, policy_document
from infra.lambda_function import RUNTIME
from infra.network import Network
from infra.packaging import LambdaCode

MIGRATION_HANDLER = "lambdas.document_indexer.migrate.handler"
#: Long enough to wait out a resume (migrate.MIGRATION_WAKE_WAIT_S) and run the migrations.
MIGRATION_TIMEOUT_S = 600


def database_migration(
    name: str,
    parent: pulumi.Resource,
    *,
    stack: str,
    code: LambdaCode,
    layers: list[pulumi.Input[str]],
    environment: pulumi.Input[dict[str, str]],
    secret_arn: pulumi.Input[str],
    network: Network,
    log_retention_days: int,
    database_ready: list[pulumi.Resource],
) -> aws.lambda_.Invocation:
    child = pulumi.ResourceOptions(parent=parent)
    function_name = f"chatbot-{stack}-db-migrate"
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-migrate-logs",
        name=f"/aws/lambda/{function_name}",
        retention_in_days=log_retention_days,
        opts=child,
    )
    role = aws.iam.Role(
        f"{name}-migrate-role", assume_role_policy=assume_role_policy("lambda.amazonaws.com"), opts=child
    )
    aws.iam.RolePolicyAttachment(
        f"{name}-migrate-vpc-access", role=role.name, policy_arn=LAMBDA_VPC_ACCESS, opts=child
    )
    policy = aws.iam.RolePolicy(
        f"{name}-migrate-policy",
        role=role.id,
        policy=policy_document(
            [log_statements(log_group.arn), allow(["secretsmanager:GetSecretValue"], [secret_arn])]
        ),
        opts=child,
    )
    function = aws.lambda_.Function(
        f"{name}-migrate",
        name=function_name,
        runtime=RUNTIME,
        handler=MIGRATION_HANDLER,
        code=code.code,
        role=role.arn,
        layers=layers,
        timeout=MIGRATION_TIMEOUT_S,
        memory_size=512,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
        vpc_config=aws.lambda_.FunctionVpcConfigArgs(
            subnet_ids=network.private_subnet_ids,
            security_group_ids=[network.functions_security_group.id],
        ),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[log_group, policy]),
    )
    # Runs at create and whenever the code or layers change (a new release may bring migrations);
    # a failed migration fails the deploy with the function's error.
    return aws.lambda_.Invocation(
        f"{name}-migrate-run",
        function_name=function.name,
        input=json.dumps({"reason": "deploy"}),
        triggers={"code": _zip_hash(code), "layers": pulumi.Output.json_dumps(layers)},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[function, *database_ready]),
    )


def _zip_hash(code: LambdaCode) -> str:
    """The function zip's content hash, known before anything deploys (the function's own
    source_code_hash is an output), so a new release re-runs the migration."""
    path = Path(getattr(code.code, "path", ""))
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "unbuilt"
