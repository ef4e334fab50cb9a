"""The database's migrations, run once per deploy: a function on the indexer's code and layer
(handler lambdas.document_indexer.migrate.handler) with the master secret, invoked by the program
(aws.lambda_.Invocation) after the database exists and whenever the code changes. The chat API and
the indexer then never migrate at a cold start, so none of them waits on a paused Aurora cluster
before its first request that needs it (chatbot/postgres.py).

The same run makes each function's own database role (rows, never the schema) and puts its
password in that role's secret (`function_role_secret`: made empty here, filled by the migration,
so no password passes through Pulumi); each function may read its own secret and no other."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.build.packaging import LambdaCode
from infra.components.iam import LAMBDA_VPC_ACCESS, allow, assume_role_policy, log_statements, policy_document
from infra.components.lambda_function import RUNTIME
from infra.components.network import Network

MIGRATION_HANDLER = "lambdas.document_indexer.migrate.handler"
#: The database roles the functions sign in as (chatbot/postgres.py: grant_function_role).
CHAT_API_ROLE = "chatbot_api"
INDEXER_ROLE = "chatbot_indexer"
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
    role_secrets: dict[str, aws.secretsmanager.Secret],
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
            [
                log_statements(log_group.arn),
                allow(["secretsmanager:GetSecretValue"], [secret_arn]),
                # A new role's password is made here and written to its secret.
                allow(
                    ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
                    [secret.arn for secret in role_secrets.values()],
                ),
            ]
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
        environment=aws.lambda_.FunctionEnvironmentArgs(
            variables=pulumi.Output.all(
                environment, {role: secret.arn for role, secret in role_secrets.items()}
            ).apply(lambda both: {**both[0], "DB_FUNCTION_ROLES": json.dumps(both[1], sort_keys=True)})
        ),
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


def function_role_secret(
    name: str, parent: pulumi.Resource, *, stack: str, role: str, deletion_protection: bool
) -> aws.secretsmanager.Secret:
    """The secret a function reads its database role's credentials from; no value until the
    migration writes one ({"username", "password"}, as RDS's own secrets hold)."""
    return aws.secretsmanager.Secret(
        f"{name}-db-{role.replace('_', '-')}-secret",
        name=f"chatbot-{stack}/database/{role}",
        description=f"The database role {role}: rows only, no schema changes (written by the deploy's migration)",
        # Unprotected stacks are torn down and made again under the same name: no 7-30 day wait.
        recovery_window_in_days=None if deletion_protection else 0,
        opts=pulumi.ResourceOptions(parent=parent, protect=deletion_protection),
    )


def _zip_hash(code: LambdaCode) -> str:
    """The function zip's content hash, known before anything deploys (the function's own
    source_code_hash is an output), so a new release re-runs the migration."""
    path = Path(getattr(code.code, "path", ""))
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "unbuilt"
