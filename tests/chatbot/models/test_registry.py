"""The DynamoDB model registry in sagemaker-fastchat's schema (moto)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from chatbot.errors import ConfigError
from chatbot.models.catalog import ModelCatalog
from chatbot.models.registry import ALL_MODELS_KEY, load_registry, registry_item


@pytest.fixture
def table():
    with mock_aws():
        yield boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName="models",
            KeySchema=[{"AttributeName": "model_name", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "model_name", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def test_the_registry_reads_back_the_full_model_specs(table, catalog: ModelCatalog):
    for spec in catalog:
        table.put_item(Item=registry_item(spec))
    table.put_item(Item={"model_name": ALL_MODELS_KEY, "names": catalog.names})
    loaded = load_registry("models", region="us-east-1")
    assert list(loaded) == list(catalog)
    item = table.get_item(Key={"model_name": "smollm2-135m"})["Item"]
    assert item["endpoint_name"] == "smollm2-135m"
    assert '"$.inputs"' in item["endpoint_req_config"], "sagemaker-fastchat's field, readable on its own"


def test_an_undeployed_registry_says_to_deploy(table):
    with pytest.raises(ConfigError, match=r"no 'all-models' item: deploy the stack"):
        load_registry("models", region="us-east-1")


def test_a_listed_model_without_an_item_is_named(table):
    table.put_item(Item={"model_name": ALL_MODELS_KEY, "names": ["ghost"]})
    with pytest.raises(ConfigError, match="lists 'ghost' but has no item"):
        load_registry("models", region="us-east-1")
