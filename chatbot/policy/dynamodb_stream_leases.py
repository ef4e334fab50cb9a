"""Stream leases in DynamoDB: one item per user in the history table, its leases a map of id ->
expiry (epoch seconds) and a version. Taking leases writes the whole map back on the condition
that the version is still the one read (else read again and retry): no two writers both take
the last lease. Renewing and giving back bump the version too, so a taker that read before them
retries instead of writing their leases back. The calls are among the history store's IAM_ACTIONS."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chatbot.dynamodb_table import PerThreadTable
from chatbot.policy.stream_leases import StreamLeases

#: Optimistic retries of one take under contention before answering that the cap is reached.
_TRIES = 8


def _conditional_check_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


class DynamoDBStreamLeases(StreamLeases):
    def __init__(
        self,
        table_name: str,
        cap: int,
        *,
        region: str | None = None,
        ttl_s: float = 120,
        clock: Callable[[], float] | None = None,
        renew_every_s: float | None = None,
    ):
        super().__init__(cap, ttl_s=ttl_s, renew_every_s=renew_every_s, **({"clock": clock} if clock else {}))
        self.table_name = table_name
        self._region = region

    _table = PerThreadTable()

    @staticmethod
    def _key(user_id: str) -> dict[str, str]:
        return {"pk": f"STREAM_LEASES#{user_id}", "sk": "LEASES"}

    def _take(self, user_id: str, ids: tuple[str, ...], *, now: float, expires_at: float) -> bool:
        for _ in range(_TRIES):
            item = self._table.get_item(Key=self._key(user_id), ConsistentRead=True).get("Item")
            version = int(item["version"]) if item else 0
            live = {lease: at for lease, at in (item or {}).get("leases", {}).items() if float(at) > now}
            if len(live) + len(ids) > self.cap:
                return False
            leases = {**live, **dict.fromkeys(ids, Decimal(str(expires_at)))}
            try:
                self._table.put_item(
                    Item={**self._key(user_id), "leases": leases, "version": version + 1},
                    ConditionExpression="attribute_not_exists(pk) OR version = :read",
                    ExpressionAttributeValues={":read": version},
                )
                return True
            except ClientError as exc:
                if not _conditional_check_failed(exc):
                    raise
        return False

    def _update(self, user_id: str, expression: str, ids: tuple[str, ...], values: dict[str, Any]) -> None:
        names = {f"#l{index}": lease for index, lease in enumerate(ids)}
        try:
            self._table.update_item(
                Key=self._key(user_id),
                UpdateExpression=expression.format(*names) + " ADD version :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#leases": "leases", **names},
                ExpressionAttributeValues={":one": 1, **values},
            )
        except ClientError as exc:
            if not _conditional_check_failed(exc):
                raise

    def _renew(self, user_id: str, ids: tuple[str, ...], *, expires_at: float) -> None:
        # Only those still held: an expired lease was counted out, and must not come back.
        for lease in ids:
            try:
                self._table.update_item(
                    Key=self._key(user_id),
                    UpdateExpression="SET #leases.#lease = :at ADD version :one",
                    ConditionExpression="attribute_exists(#leases.#lease)",
                    ExpressionAttributeNames={"#leases": "leases", "#lease": lease},
                    ExpressionAttributeValues={":at": Decimal(str(expires_at)), ":one": 1},
                )
            except ClientError as exc:
                if not _conditional_check_failed(exc):
                    raise

    def _give_back(self, user_id: str, ids: tuple[str, ...]) -> None:
        removals = ", ".join(f"#leases.{{{index}}}" for index in range(len(ids)))
        self._update(user_id, "REMOVE " + removals, ids, {})
