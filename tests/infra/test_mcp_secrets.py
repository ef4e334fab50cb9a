"""The chat API's MCP server secrets in AWS: each stack names its own prefix, and the chat API's
role may touch exactly the secrets under it.

The registry's real calls (chatbot/tools/registry.py) run as a moto IAM user holding the policy
the Pulumi program writes for the chat API's role, with moto checking each Secrets Manager call
against the secret's ARN (tests/infra/iam_secret_resources.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from chatbot.chat.dynamodb_store import TABLE_SCHEMA
from chatbot.tools.registry import DynamoDBMcpRegistry, McpServer
from infra.checks.offline import ACCOUNT_ID, OfflineRun
from infra.checks.policies import RULES, Context
from infra.components.mcp_secrets import ABSENT_ON_CREATE, CREATE_ACTION, SECRET_ACTIONS, secret_prefix
from tests.infra.iam_enforced import (
    REGION,
    Credentials,
    EnforcedAws,
    enforced_aws,
    for_moto,
    role_statements,
    use_default_credentials,
)
from tests.infra.iam_secret_resources import check_secret_resources
from tests.infra.support import one
from tests.infra.test_policies import patch, set_

HISTORY = "history"
DEV = Context(production=False)
SECRET = "Bearer s3cret"


def function_env(run: OfflineRun) -> dict[str, str]:
    return one(run.graph, "aws:lambda/function:Function", "chat-function").inputs["environment"]["variables"]


def secret_statements(run: OfflineRun) -> list[dict]:
    return [
        statement
        for statement in role_statements(run.graph, "chat-role")
        if any(action.startswith("secretsmanager:") for action in statement["Action"])
    ]


def server(name: str = "calc") -> McpServer:
    return McpServer(
        name=name,
        url="https://tools.example.com/mcp",
        auth_header="Authorization",
        created_by="root",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


# --- what the program writes -----------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_chat_api_keeps_mcp_secrets_under_its_stacks_own_prefix(stack: str, request):
    run: OfflineRun = request.getfixturevalue(stack)
    assert function_env(run)["CHATBOT_MCP_SECRET_PREFIX"] == secret_prefix(stack) == f"chatbot-{stack}/mcp"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_roles_secrets_are_the_database_secret_and_the_mcp_prefix_nothing_wider(stack: str, request):
    run: OfflineRun = request.getfixturevalue(stack)
    env = function_env(run)
    mcp = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:{secret_prefix(stack)}/*"
    allowed = {mcp} | ({env["DB_SECRET_ARN"]} if "DB_SECRET_ARN" in env else set())
    named = {resource for statement in secret_statements(run) for resource in statement["Resource"]}
    assert named == allowed
    grants = {
        action
        for statement in secret_statements(run)
        if mcp in statement["Resource"]
        for action in statement["Action"]
    }
    assert grants == {*SECRET_ACTIONS, CREATE_ACTION}


def test_creating_a_secret_is_conditioned_on_its_name_and_on_nothing_the_registry_never_sends(dev):
    [create] = [s for s in secret_statements(dev) if CREATE_ACTION in s["Action"]]
    assert create["Action"] == [CREATE_ACTION]  # the conditions bind this action alone
    assert create["Condition"] == {
        "StringLike": {"secretsmanager:Name": "chatbot-dev/mcp/*"},
        "Null": dict.fromkeys(ABSENT_ON_CREATE, "true"),
    }
    assert {"secretsmanager:AddReplicaRegions", "secretsmanager:KmsKeyId", "aws:TagKeys"} <= set(
        ABSENT_ON_CREATE
    )


@pytest.mark.parametrize("value", ["hunter2-plain", "Bearer s3cret/x", "sk-live/"])
def test_the_secrets_rule_takes_a_prefix_for_a_reference_only_when_it_is_a_name_path(dev, value: str):
    # The prefix names where secrets live, as an ARN would; a value that is no name path may be one.
    rule = next(rule for rule in RULES if rule.id == "secrets-in-secrets-manager")
    assert list(rule.check(dev.graph, DEV)) == []
    change = set_("environment.variables.CHATBOT_MCP_SECRET_PREFIX", value)
    graph, _ = patch(dev.graph, "aws:lambda/function:Function", change, name="chat-function")
    [violation] = rule.check(graph, DEV)
    assert "CHATBOT_MCP_SECRET_PREFIX" in violation.message


# --- the registry's real calls, as the role ----------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[EnforcedAws]:
    with enforced_aws(monkeypatch) as aws:
        check_secret_resources(monkeypatch)
        aws.admin.session().resource("dynamodb").create_table(TableName=HISTORY, **TABLE_SCHEMA)
        yield aws


def chat_api_user(aws: EnforcedAws, run: OfflineRun) -> Credentials:
    """A user holding the chat API role's policy: DynamoDB as moto checks it (action only, on the
    history table), Secrets Manager with its resources, checked per secret."""
    graph = run.graph
    history_arn = one(graph, "aws:dynamodb/table:Table", "chat-history").arn
    renames = {history_arn: f"arn:aws:dynamodb:{REGION}:123456789012:table/{HISTORY}"}
    statements = role_statements(graph, "chat-role")
    others = [s for s in statements if not any(a.startswith("secretsmanager:") for a in s["Action"])]
    document = json.loads(for_moto(others, list(renames.values()), renames))
    document["Statement"] += secret_statements(run)
    return aws.user("chat-api", json.dumps(document))


def registry_as_chat_api(aws, monkeypatch, run: OfflineRun, prefix: str | None = None) -> DynamoDBMcpRegistry:
    use_default_credentials(monkeypatch, chat_api_user(aws, run))
    return DynamoDBMcpRegistry(
        HISTORY, prefix or function_env(run)["CHATBOT_MCP_SECRET_PREFIX"], region=REGION
    )


def test_the_chat_api_registers_replaces_reads_and_removes_a_servers_secret(aws, monkeypatch, dev):
    registry = registry_as_chat_api(aws, monkeypatch, dev)
    registry.put(server(), SECRET)  # put_secret_value finds none: create_secret
    registry.put(server(), "Bearer rotated")  # put_secret_value
    assert registry.connection("calc").auth_header == ("Authorization", "Bearer rotated")
    admin = aws.admin.session().client("secretsmanager")
    assert admin.get_secret_value(SecretId="chatbot-dev/mcp/calc")["SecretString"] == "Bearer rotated"
    registry.delete("calc")  # delete_secret
    assert admin.list_secrets()["SecretList"] == []


@pytest.mark.parametrize(
    "name",
    [
        "chatbot-prod/mcp/calc",  # another stack's MCP server
        "chatbot-dev2/mcp/calc",  # a stack whose name starts like this one's
        "chatbot-dev/web-auth",  # this stack's, but not an MCP server's
        "rds!db-0123",  # the database's
    ],
)
def test_the_chat_api_touches_no_secret_outside_its_mcp_prefix(aws, dev, name: str):
    aws.admin.session().client("secretsmanager").create_secret(Name=name, SecretString="theirs")
    secrets = chat_api_user(aws, dev).session().client("secretsmanager")
    for call in (
        lambda: secrets.get_secret_value(SecretId=name),
        lambda: secrets.put_secret_value(SecretId=name, SecretString="mine"),
        lambda: secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True),
        lambda: secrets.create_secret(Name=f"{name}-copy", SecretString="mine"),
    ):
        with pytest.raises(ClientError, match="AccessDenied"):
            call()


def test_a_registry_pointed_at_another_stacks_prefix_is_refused(aws, monkeypatch, dev):
    aws.admin.session().client("secretsmanager").create_secret(
        Name="chatbot-prod/mcp/calc", SecretString="prod's"
    )
    registry = registry_as_chat_api(aws, monkeypatch, dev, prefix="chatbot-prod/mcp")
    with pytest.raises(ClientError, match="AccessDenied"):
        registry.put(server(), SECRET)
    with pytest.raises(ClientError, match="AccessDenied"):
        registry._secret("calc")
