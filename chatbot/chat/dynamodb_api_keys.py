"""API keys in the DynamoDB history table (mixed into DynamoDBHistoryStore).

| item             | pk                | sk     | gsi1 (newest first)                               |
|------------------|-------------------|--------|---------------------------------------------------|
| API key          | APIKEY#{sha256}   | APIKEY | gsi1pk=APIKEYS#{user}, gsi1sk={created}#{key id}  |
| active-key count | APIKEYS#{user}    | ACTIVE | (attribute `active`: the user's unrevoked keys)   |

The gateway finds a key by its hash with one consistent GetItem; a user's keys are listed
through gsi1. Usage is counted with atomic ADDs, so concurrent calls lose no count.

The cap on a user's active keys is kept atomically: a key is written in one transaction with
an increment of the user's count that is conditional on the count being under the cap, and a
revocation decrements it in one transaction with the key's update. Users whose keys were made
before the count existed get it on their next creation or revocation, counted from their keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chatbot.chat.api_keys import MAX_ACTIVE_KEYS, ApiKey, ApiKeyNotFoundError, TooManyApiKeysError

_COUNTERS = ("requests", "prompt_tokens", "completion_tokens")
_TIMES = ("created_at", "revoked_at", "last_used_at")


def _key(key_hash: str) -> dict[str, str]:
    return {"pk": f"APIKEY#{key_hash}", "sk": "APIKEY"}


def _count_key(user_id: str) -> dict[str, str]:
    return {"pk": f"APIKEYS#{user_id}", "sk": "ACTIVE"}


def _cancelled_by_condition(exc: ClientError, index: int) -> bool:
    """Whether a cancelled transaction failed the condition of its `index`th write."""
    if exc.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    return index < len(reasons) and reasons[index].get("Code") == "ConditionalCheckFailed"


def _record(item: dict[str, Any]) -> ApiKey:
    values = {name: item.get(name) for name in ApiKey.model_fields}
    values.update({name: int(item.get(name, 0)) for name in _COUNTERS})  # DynamoDB numbers are Decimals
    values.update({name: datetime.fromisoformat(item[name]) if item.get(name) else None for name in _TIMES})
    return ApiKey.model_validate(values)


class DynamoDBApiKeys:
    _table: Any  # provided by DynamoDBHistoryStore

    def create_api_key(self, key: ApiKey, *, max_active: int = MAX_ACTIVE_KEYS) -> ApiKey:
        """Raises TooManyApiKeysError when the user already has `max_active` active keys."""
        self._ensure_active_count(key.user_id)
        item = {
            **_key(key.key_hash),
            "gsi1pk": f"APIKEYS#{key.user_id}",
            "gsi1sk": f"{key.created_at.isoformat()}#{key.id}",
            **key.model_dump(mode="json", exclude_none=True),
        }
        try:
            self._table.meta.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table.name,
                            "Key": _count_key(key.user_id),
                            "UpdateExpression": "ADD active :one",
                            "ConditionExpression": "active < :cap",
                            "ExpressionAttributeValues": {":one": 1, ":cap": max_active},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if _cancelled_by_condition(exc, 0):
                raise TooManyApiKeysError() from None
            raise
        return key

    def _ensure_active_count(self, user_id: str) -> None:
        """The user's active-key count, made from their keys if they have none yet (keys made
        before the count existed); a count made meanwhile by another request is kept."""
        key = _count_key(user_id)
        if "Item" in self._table.get_item(Key=key, ConsistentRead=True, ProjectionExpression="pk"):
            return
        active = sum(stored.active for stored in self.list_api_keys(user_id))
        try:
            self._table.put_item(
                Item={**key, "active": active}, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

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
        self._ensure_active_count(user_id)
        try:
            self._table.meta.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table.name,
                            "Key": _key(key.key_hash),
                            "UpdateExpression": "SET revoked_at = :at",
                            "ConditionExpression": "user_id = :owner AND attribute_not_exists(revoked_at)",
                            "ExpressionAttributeValues": {":at": at.isoformat(), ":owner": user_id},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table.name,
                            "Key": _count_key(user_id),
                            "UpdateExpression": "ADD active :minus_one",
                            "ExpressionAttributeValues": {":minus_one": -1},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if not _cancelled_by_condition(exc, 0):
                raise
            # Revoked meanwhile by another request (that one counted it), or not this user's.
        item = self._table.get_item(Key=_key(key.key_hash), ConsistentRead=True).get("Item")
        if item is None or item.get("user_id") != user_id:
            raise ApiKeyNotFoundError(key_id)
        return _record(item)

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
