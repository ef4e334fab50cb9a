"""Models' runtime settings and presets in DynamoDB: items of their own in the history table.

- settings: pk `MODEL_SETTINGS`, sk the model's name, `settings` (JSON);
- presets: pk `MODEL_PRESETS`, sk the preset's name, `preset` (JSON).
Each is one partition read with one query: a handful of items, read at most every 30 s per
instance (the cache in chatbot.policy.model_access). The calls are among the history store's
IAM_ACTIONS (Query, PutItem, DeleteItem).
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from chatbot.api.model_access import ModelSettings, Preset
from chatbot.dynamodb_table import PerThreadTable
from chatbot.policy.model_access import ModelAccessStore

_MODELS = "MODEL_SETTINGS"
_PRESETS = "MODEL_PRESETS"


class DynamoDBModelAccessStore(ModelAccessStore):
    def __init__(self, table_name: str, *, region: str | None = None):
        self.table_name = table_name
        self._region = region

    _table = PerThreadTable()

    def _partition(self, pk: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(pk), "ConsistentRead": True}
        while True:
            page = self._table.query(**arguments)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def stored_models(self) -> dict[str, ModelSettings]:
        return {
            item["sk"]: ModelSettings.model_validate_json(item["settings"])
            for item in self._partition(_MODELS)
        }

    def put_model(self, name: str, settings: ModelSettings) -> None:
        self._table.put_item(Item={"pk": _MODELS, "sk": name, "settings": settings.model_dump_json()})

    def stored_presets(self) -> dict[str, Preset]:
        return {item["sk"]: Preset.model_validate_json(item["preset"]) for item in self._partition(_PRESETS)}

    def put_preset(self, preset: Preset) -> None:
        self._table.put_item(Item={"pk": _PRESETS, "sk": preset.name, "preset": preset.model_dump_json()})

    def delete_preset(self, name: str) -> bool:
        response = self._table.delete_item(Key={"pk": _PRESETS, "sk": name}, ReturnValues="ALL_OLD")
        return "Attributes" in response
