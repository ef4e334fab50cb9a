"""The model registry in DynamoDB, in sagemaker-fastchat's schema, plus the whole ModelSpec.

One item per model (partition key `model_name`, with `endpoint_name` and
`endpoint_req_config`), and an item `all-models` whose `names` list the models. Structured
values are JSON strings: DynamoDB maps would turn every float into a Decimal. The Pulumi
program writes these items (infra/components/llm.py); the chat API reads them.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from pydantic import ValidationError

from chatbot.errors import ConfigError
from chatbot.models.catalog import ModelCatalog
from chatbot.models.spec import ModelSpec

#: The partition key, and the item that lists every model's name.
KEY = "model_name"
ALL_MODELS_KEY = "all-models"
#: Every call `load_registry` makes: the Pulumi program grants exactly these on the table.
IAM_ACTIONS = ("dynamodb:GetItem",)


def registry_item(spec: ModelSpec) -> dict[str, str]:
    """The item for one model, as plain strings (the Pulumi program writes it as DynamoDB JSON)."""
    return {
        KEY: spec.name,
        "endpoint_name": spec.endpoint_name,
        "endpoint_req_config": spec.endpoint_req_config.model_dump_json(),
        "task": spec.task,
        "model_spec": spec.model_dump_json(),
    }


def index_item(names: list[str]) -> dict[str, Any]:
    """The item listing the models, in load order."""
    return {KEY: ALL_MODELS_KEY, "names": list(names)}


def as_dynamodb_json(item: dict[str, Any]) -> str:
    """An item as DynamoDB JSON (`{"name": {"S": ...}}`), the form a TableItem resource takes."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return json.dumps({key: serializer.serialize(value) for key, value in item.items()})


def load_registry(table_name: str, *, region: str | None = None) -> ModelCatalog:
    table: Any = boto3.resource("dynamodb", region_name=region).Table(table_name)
    index = table.get_item(Key={KEY: ALL_MODELS_KEY}, ConsistentRead=True).get("Item")
    if index is None:
        raise ConfigError(
            f"The model registry {table_name} has no {ALL_MODELS_KEY!r} item: deploy the stack "
            "(pulumi up) so that it lists the models."
        )
    specs = []
    for name in index.get("names", []):
        item = table.get_item(Key={KEY: name}, ConsistentRead=True).get("Item")
        if item is None:
            raise ConfigError(f"The model registry {table_name} lists {name!r} but has no item for it.")
        try:
            specs.append(ModelSpec.model_validate_json(item["model_spec"]))
        except (KeyError, ValidationError) as exc:
            raise ConfigError(
                f"The registry item of {name!r} in {table_name} is not a valid ModelSpec: {exc}"
            ) from None
    return ModelCatalog(specs)
