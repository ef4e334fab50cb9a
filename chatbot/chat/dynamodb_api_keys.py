"""API keys in the DynamoDB history table (mixed into DynamoDBHistoryStore).

| item    | pk                | sk     | gsi1 (newest first)                               |
|---------|-------------------|--------|---------------------------------------------------|
| API key | APIKEY#{sha256}   | APIKEY | gsi1pk=APIKEYS#{user}, gsi1sk={created}#{key id}  |

The gateway finds a key by its hash with one consistent GetItem; a user's keys are listed
through gsi1. Usage is counted with atomic ADDs, so concurrent calls lose no count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chatbot.chat.api_keys import ApiKey, ApiKeyNotFoundError

_COUNTERS = ("requests", "prompt_tokens", "completion_tokens")
_TIMES = ("created_at", "revoked_at", "last_used_at")


def _key(key_hash: str) -> dict[str, str]:
    return {"pk": f"APIKEY#{key_hash}", "sk": "APIKEY"}


def _record(item: dict[str, Any]) -> ApiKey:
    values = {name: item.get(name) for name in ApiKey.model_fields}
    values.update({name: int(item.get(name, 0)) for name in _COUNTERS})  # DynamoDB numbers are Decimals
    values.update({name: datetime.fromisoformat(item[name]) if item.get(name) else None for name in _TIMES})
    return ApiKey.model_validate(values)


class DynamoDBApiKeys:
    _table: Any  # provided by DynamoDBHistoryStore

    def create_api_key(self, key: ApiKey) -> ApiKey:
        item = {
            **_key(key.key_hash),
            "gsi1pk": f"APIKEYS#{key.user_id}",
            "gsi1sk": f"{key.created_at.isoformat()}#{key.id}",
            **key.model_dump(mode="json", exclude_none=True),
        }
        self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        return key

    def list_api_keys(self, user_id: str) -> list[ApiKey]:
        response = self._table.query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :owner",
            ExpressionAttributeValues={":owner": f"APIKEYS#{user_id}"},
            ScanIndexForward=False,
        )
        return [_record(item) for item in response["Items"]]

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        item = self._table.get_item(Key=_key(key_hash), ConsistentRead=True).get("Item")
        return _record(item) if item else None

    def revoke_api_key(self, user_id: str, key_id: str, at: datetime) -> ApiKey:
        key = next((key for key in self.list_api_keys(user_id) if key.id == key_id), None)
        if key is None:
            raise ApiKeyNotFoundError(key_id)
        if key.revoked_at is not None:
            return key
        try:
            response = self._table.update_item(
                Key=_key(key.key_hash),
                UpdateExpression="SET revoked_at = :at",
                ConditionExpression="user_id = :owner",
                ExpressionAttributeValues={":at": at.isoformat(), ":owner": user_id},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ApiKeyNotFoundError(key_id) from None
            raise
        return _record(response["Attributes"])

    def record_api_key_use(
        self, key: ApiKey, prompt_tokens: int, completion_tokens: int, at: datetime
    ) -> None:
        self._table.update_item(
            Key=_key(key.key_hash),
            UpdateExpression="ADD requests :one, prompt_tokens :prompt, completion_tokens :completion"
            " SET last_used_at = :at",
            ExpressionAttributeValues={
                ":one": 1,
                ":prompt": prompt_tokens,
                ":completion": completion_tokens,
                ":at": at.isoformat(),
            },
        )
