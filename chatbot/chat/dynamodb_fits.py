"""The stored fit and the refit lease in DynamoDB (mixed into DynamoDBHistoryStore; the contract
is chatbot/chat/fit_store.py), in the history table:

| item        | pk    | sk          | attributes                          |
|-------------|-------|-------------|-------------------------------------|
| stored fit  | ARENA | FIT         | version (N), body_gz (the fit as gzipped JSON) |
| refit lease | ARENA | REFIT_LEASE | holder, until (ISO time, UTC)       |

The fit is gzipped: a board per category, each with every pair of models, would otherwise near
DynamoDB's 400 KB item limit at a few dozen models. Each is written by one conditional PutItem (GetItem, PutItem and DeleteItem only: the actions
the store already declares)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chatbot.chat.fit_store import StoredFit

FIT_KEY = {"pk": "ARENA", "sk": "FIT"}
LEASE_KEY = {"pk": "ARENA", "sk": "REFIT_LEASE"}


def _conditional_failure(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _iso(moment: datetime) -> str:
    """UTC, fixed width: ISO times compare as strings in a condition."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DynamoDBArenaFits:
    _table: Any  # provided by DynamoDBHistoryStore

    def stored_fit(self) -> StoredFit | None:
        item = self._table.get_item(Key=FIT_KEY, ConsistentRead=True).get("Item")
        if item is None:
            return None
        text = gzip.decompress(item["body_gz"].value) if "body_gz" in item else item["body"]
        return StoredFit.read(int(item["version"]), json.loads(text))

    def save_fit(self, fit: StoredFit) -> bool:
        try:
            self._table.put_item(
                Item={
                    **FIT_KEY,
                    "version": fit.version,
                    "body_gz": gzip.compress(fit.model_dump_json().encode()),
                },
                ConditionExpression="attribute_not_exists(pk) OR version < :version",
                ExpressionAttributeValues={":version": fit.version},
            )
        except ClientError as exc:
            if _conditional_failure(exc):
                return False
            raise
        return True

    def take_refit_lease(self, holder: str, now: datetime, hold_s: float) -> bool:
        try:
            self._table.put_item(
                Item={**LEASE_KEY, "holder": holder, "until": _iso(now + timedelta(seconds=hold_s))},
                ConditionExpression="attribute_not_exists(pk) OR #until <= :now OR holder = :holder",
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues={":now": _iso(now), ":holder": holder},
            )
        except ClientError as exc:
            if _conditional_failure(exc):
                return False
            raise
        return True

    def end_refit_lease(self, holder: str) -> None:
        try:
            self._table.delete_item(
                Key=LEASE_KEY,
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": holder},
            )
        except ClientError as exc:
            if not _conditional_failure(exc):
                raise  # else: the lease ran out and someone else holds it now
