"""The deploy's migration makes each function's database role and fills its secret (defect 13):
the real handler, a real PostgreSQL, moto's Secrets Manager."""

from __future__ import annotations

import json

import boto3
import psycopg2
import pytest
from moto import mock_aws
from psycopg2.extensions import make_dsn

from chatbot.postgres import create_database
from lambdas.document_indexer import migrate

ROLES = ("chatbot_api", "chatbot_indexer")


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def role_credentials(secrets, arn: str) -> dict[str, str]:
    return json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])


def test_the_migration_makes_each_role_with_a_password_in_its_secret_and_keeps_it(
    postgres_server_url, monkeypatch, secrets
):
    url = create_database(postgres_server_url, "migration_roles_tests")
    # As the program makes them: empty, until the migration writes a value.
    arns = {role: secrets.create_secret(Name=f"chatbot-test/database/{role}")["ARN"] for role in ROLES}
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DB_FUNCTION_ROLES", json.dumps(arns))

    assert migrate.handler({"reason": "deploy"})["roles"] == list(ROLES)
    first = {role: role_credentials(secrets, arn) for role, arn in arns.items()}
    for role, credentials in first.items():
        assert credentials["username"] == role
        assert len(credentials["password"]) >= 32
        conn = psycopg2.connect(make_dsn(url, user=credentials["username"], password=credentials["password"]))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone() == (role,)
            cur.execute("SELECT count(*) FROM documents")  # the schema the migration made
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("DROP TABLE documents")
        conn.close()

    migrate.handler({"reason": "deploy"})  # the next deploy: the same passwords, no churn
    assert {role: role_credentials(secrets, arn) for role, arn in arns.items()} == first


def test_a_secret_holding_another_roles_credentials_gets_this_roles(
    postgres_server_url, monkeypatch, secrets
):
    url = create_database(postgres_server_url, "migration_roles_tests")
    arn = secrets.create_secret(
        Name="chatbot-test/database/mixed",
        SecretString=json.dumps({"username": "chatbot_admin", "password": "x"}),
    )["ARN"]
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DB_FUNCTION_ROLES", json.dumps({"chatbot_api": arn}))
    migrate.handler({"reason": "deploy"})
    credentials = role_credentials(secrets, arn)
    assert credentials["username"] == "chatbot_api"
    assert credentials["password"] != "x"
