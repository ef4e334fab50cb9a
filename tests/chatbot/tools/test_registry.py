"""The MCP server registry, against both real stores: Postgres (the secret in the store) and
DynamoDB with Secrets Manager (on moto): the secret is kept where the stack grants it, kept across
a replacement that does not send it, and never part of what is listed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from chatbot.chat.dynamodb_store import TABLE_SCHEMA
from chatbot.postgres import ConnectionPool, create_database
from chatbot.tools.registry import (
    DynamoDBMcpRegistry,
    McpRegistry,
    McpServer,
    PostgresMcpRegistry,
    UnknownMcpServerError,
)
from tests.chatbot.chat.conftest import serialise_moto

_databases = itertools.count()
SECRET = "Bearer s3cret"


def server(name: str = "calc", **fields) -> McpServer:
    values = {
        "name": name,
        "url": "https://tools.example.com/mcp",
        "auth_header": "Authorization",
        "created_by": "root",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        **fields,
    }
    return McpServer.model_validate(values)


@pytest.fixture
def dynamodb_registry(monkeypatch) -> Iterator[McpRegistry]:
    serialise_moto(monkeypatch)
    with mock_aws():
        boto3.resource("dynamodb", region_name="us-east-1").create_table(TableName="history", **TABLE_SCHEMA)
        yield DynamoDBMcpRegistry("history", "chatbot/mcp", region="us-east-1")


@pytest.fixture
def postgres_registry(postgres_server_url: str) -> Iterator[McpRegistry]:
    pool = ConnectionPool(create_database(postgres_server_url, f"mcp_{next(_databases)}"), max_connections=4)
    yield PostgresMcpRegistry(pool)
    pool.close()


@pytest.fixture(params=["postgres", "dynamodb"])
def registry(request) -> McpRegistry:
    return request.getfixturevalue(f"{request.param}_registry")


def test_a_server_is_listed_without_its_secret_and_called_with_it(registry: McpRegistry):
    registry.put(server(), SECRET)
    [listed] = registry.list()
    assert listed.has_secret
    assert SECRET not in listed.model_dump_json()
    assert registry.connection("calc").auth_header == ("Authorization", SECRET)


def test_replacing_a_server_without_a_secret_keeps_the_stored_one(registry: McpRegistry):
    registry.put(server(), SECRET)
    registry.put(server(url="https://tools.example.com/v2/mcp"), None)
    assert registry.get("calc").url == "https://tools.example.com/v2/mcp"
    assert registry.get("calc").has_secret
    assert registry.connection("calc").auth_header == ("Authorization", SECRET)


def test_removing_a_server_removes_its_secret(registry: McpRegistry):
    registry.put(server(), SECRET)
    registry.delete("calc")
    assert registry.list() == []
    with pytest.raises(UnknownMcpServerError):
        registry.connection("calc")
    with pytest.raises(UnknownMcpServerError):
        registry.delete("calc")


def test_in_aws_the_secret_lives_in_secrets_manager_under_the_stacks_prefix(dynamodb_registry: McpRegistry):
    dynamodb_registry.put(server(), SECRET)
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    assert secrets.get_secret_value(SecretId="chatbot/mcp/calc")["SecretString"] == SECRET
    item = boto3.resource("dynamodb", region_name="us-east-1").Table("history").scan()["Items"]
    assert SECRET not in str(item)


def test_servers_are_for_administrators_unless_published():
    assert server().published_to({"admin"})
    assert not server().published_to(set())
    assert server(roles=["everyone"]).published_to(set())
    assert server(roles=["analysts"]).published_to({"analysts"})
