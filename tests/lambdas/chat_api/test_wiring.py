"""lambdas/chat_api/wiring.py: what the settings say reaches the service they build."""

from __future__ import annotations

import boto3
from moto import mock_aws

from chatbot.api.model_access import ModelSettings
from chatbot.chat.dynamodb_store import TABLE_SCHEMA
from chatbot.models.catalog import ModelCatalog
from chatbot.policy.dynamodb_model_access import DynamoDBModelAccessStore
from chatbot.policy.postgres_model_access import PostgresModelAccessStore
from chatbot.postgres import create_database
from lambdas.chat_api.settings import ChatApiSettings
from lambdas.chat_api.wiring import build_model_access, build_services


def test_the_daily_vote_limit_is_the_deployments_setting(postgres_server_url: str):
    settings = ChatApiSettings.from_env(
        {
            "DATABASE_URL": create_database(postgres_server_url, "wiring_tests"),
            "CHATBOT_DOCUMENTS": "false",
            "CHATBOT_MAX_VOTES_PER_PAIR_PER_DAY": "3",
        }
    )
    service, retrieval = build_services(settings)
    assert retrieval is None
    assert service.votes.rules.max_votes_per_pair_per_day == 3


def test_model_access_is_kept_where_the_history_is_and_its_changes_are_audited(
    postgres_server_url: str, catalog: ModelCatalog, monkeypatch
):
    audited: list = []
    local = ChatApiSettings.from_env({"DATABASE_URL": create_database(postgres_server_url, "wiring_access")})
    in_postgres = build_model_access(local, catalog, audited.append)
    assert isinstance(in_postgres.store, PostgresModelAccessStore)
    in_postgres.set_model("gemma3-270m", ModelSettings(enabled=False), actor="root")
    assert [(e.actor, e.target) for e in audited] == [("root", "model:gemma3-270m")]

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.resource("dynamodb", region_name="us-east-1").create_table(TableName="history", **TABLE_SCHEMA)
        aws = ChatApiSettings.from_env({"CHATBOT_HISTORY_TABLE": "history", "AWS_REGION": "us-east-1"})
        in_dynamodb = build_model_access(aws, catalog, audited.append)
        assert isinstance(in_dynamodb.store, DynamoDBModelAccessStore)
        assert "gemma3-270m" in in_dynamodb.usable(set()), "a store of its own: the table's, not Postgres'"
