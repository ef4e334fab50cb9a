"""The quota ledger in DynamoDB: items of their own in the history table (prefix `QUOTA`).

- counters: pk `QUOTA#<subject>`, sk `COUNTER#<period>`, with `used`, `held` and a `version`;
- holds: pk `QUOTA_HOLDS#<user>`, sk `<expiry, ISO>#<id>` (a query finds the expired ones);
- usage: one item per answer (pk `QUOTA_USAGE#<user>`), and running sums kept with atomic ADDs
  that the usage views read: per user and day (`QUOTA_USER_DAY#<user>`, sk `<day>#<model>`), per
  day for the whole organisation (`QUOTA_DAY#<day>`, sk `<user>#<model>`), per key
  (`QUOTA_KEY_DAY#<user>`, sk `<day>#<key>`); a month's view reads at most 31 partitions;
- limits (`QUOTA_LIMITS`) and the audit log (`AUDIT`).

Taking counters is one TransactWriteItems: each counter written on the condition that its
version is still the one read (else read again and retry), with the hold's item: all or none,
and no two writers both take the last of a budget. Giving a hold back deletes its item on the
condition that it exists, in the same transaction as the counters' decrement: exactly once.
The calls are among the history store's IAM_ACTIONS (TransactWriteItems needs none of its own).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chatbot.dynamodb_table import PerThreadTable
from chatbot.policy.limits import Limits, LimitsConfig, utc_day, utc_month
from chatbot.policy.quotas import (
    DEFAULT_LEASE_S,
    UNLIMITED,
    AuditEntry,
    Counter,
    Hold,
    QuotaStore,
    Reservation,
    TokenPrice,
    UsageRow,
    UsageTotal,
)

#: Optimistic retries of one reservation under contention before answering that it is busy.
_TRIES = 64


def _number(value: float) -> Decimal:
    return Decimal(repr(round(float(value), 9)))


def _counter_key(subject: str, period: str) -> dict[str, str]:
    return {"pk": f"QUOTA#{subject}", "sk": f"COUNTER#{period}"}


def _hold_key(user_id: str, reservation_id: str, expires_at: datetime) -> dict[str, str]:
    return {
        "pk": f"QUOTA_HOLDS#{user_id}",
        "sk": f"{expires_at.astimezone(UTC).isoformat()}#{reservation_id}",
    }


def _cancelled_by_condition(exc: ClientError) -> bool:
    if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
        return True
    if exc.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    return any(reason.get("Code") in ("ConditionalCheckFailed", "TransactionConflict") for reason in reasons)


def _days(first_day: str, last_day: str) -> list[str]:
    first, last = date.fromisoformat(first_day), date.fromisoformat(last_day)
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


#: The organisation's view reads one partition per day, this many at once.
_DAY_QUERIES_AT_ONCE = 8


class DynamoDBQuotaStore(QuotaStore):
    def __init__(
        self,
        table_name: str,
        defaults: LimitsConfig | None = None,
        *,
        region: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
        clock: Callable[[], datetime] | None = None,
    ):
        super().__init__(defaults, lease_s=lease_s, **({"clock": clock} if clock else {}))
        self.table_name = table_name
        self._region = region

    _table = PerThreadTable()

    def _transact(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            next(iter(item.values()))["TableName"] = self.table_name
        self._table.meta.client.transact_write_items(TransactItems=items)

    # -- admit and settle ---------------------------------------------------------------------

    def _reserve(
        self,
        user_id: str,
        reservation_id: str,
        counters: list[Counter],
        *,
        prompt_tokens: int,
        max_new_tokens: int,
        price: TokenPrice,
        now: datetime,
        expires_at: datetime,
    ) -> tuple[int, list[Hold]]:
        self._give_back_expired(user_id, now)
        for _ in range(_TRIES):
            read = {
                (c.subject, c.period): self._table.get_item(
                    Key=_counter_key(c.subject, c.period), ConsistentRead=True
                ).get("Item")
                or {}
                for c in counters
            }
            new_tokens = max_new_tokens
            for counter in counters:  # the answer's size: clipped by each counter in turn
                item = read[(counter.subject, counter.period)]
                room = (
                    (UNLIMITED if counter.limit is None else counter.limit)
                    - float(item.get("used", 0))
                    - float(item.get("held", 0))
                )
                want, minimum = self.wanted(counter, prompt_tokens, new_tokens, price)
                if room < minimum:
                    raise self.refusal(counter, float(item.get("used", 0)) + float(item.get("held", 0)), now)
                new_tokens = self.new_tokens_within(
                    counter, min(want, room), prompt_tokens, price, new_tokens
                )
            holds: list[Hold] = []
            writes: list[dict[str, Any]] = []
            for counter in counters:
                item = read[(counter.subject, counter.period)]
                amount, _ = self.wanted(counter, prompt_tokens, new_tokens, price)
                field = "used" if counter.kind == "requests" else "held"
                if counter.kind != "requests":
                    holds.append(Hold(counter.subject, counter.period, amount))
                version = int(item.get("version", 0))
                writes.append(
                    {
                        "Update": {
                            "Key": _counter_key(counter.subject, counter.period),
                            "UpdateExpression": "SET #f = :value, version = :next",
                            "ConditionExpression": "attribute_not_exists(version) OR version = :read",
                            "ExpressionAttributeNames": {"#f": field},
                            "ExpressionAttributeValues": {
                                ":value": _number(float(item.get(field, 0)) + amount),
                                ":next": version + 1,
                                ":read": version,
                            },
                        }
                    }
                )
            hold_item = {
                **_hold_key(user_id, reservation_id, expires_at),
                "holds": json.dumps(
                    [{"subject": h.subject, "period": h.period, "amount": h.amount} for h in holds]
                ),
            }
            writes.append({"Put": {"Item": hold_item}})
            try:
                self._transact(writes)
                return new_tokens, holds
            except ClientError as exc:
                if not _cancelled_by_condition(exc):
                    raise
        raise self.refusal(counters[0], 0.0, now)  # contention beyond all retries: try again

    def _release(
        self, hold_key: dict[str, str], holds: list[dict], extra: dict[tuple[str, str], float]
    ) -> bool:
        """Deletes the hold's item and gives its amounts back (adding `extra` as used) in one
        transaction; False when the item was gone (given back already)."""
        changes: dict[tuple[str, str], list[float]] = {}
        for hold in holds:
            changes.setdefault((hold["subject"], hold["period"]), [0.0, 0.0])[1] += float(hold["amount"])
        for key, used in extra.items():
            changes.setdefault(key, [0.0, 0.0])[0] += used
        writes: list[dict[str, Any]] = [
            {"Delete": {"Key": hold_key, "ConditionExpression": "attribute_exists(pk)"}}
        ]
        writes += [
            self._change(subject, period, used, released)
            for (subject, period), (used, released) in changes.items()
        ]
        try:
            self._transact(writes)
            return True
        except ClientError as exc:
            if not _cancelled_by_condition(exc):
                raise
            return False

    @staticmethod
    def _change(subject: str, period: str, used: float, released: float) -> dict[str, Any]:
        return {
            "Update": {
                "Key": _counter_key(subject, period),
                "UpdateExpression": "ADD used :used, held :held, version :one",
                "ExpressionAttributeValues": {":used": _number(used), ":held": _number(-released), ":one": 1},
            }
        }

    def _give_back_expired(self, user_id: str, now: datetime) -> None:
        expired = self._table.query(
            KeyConditionExpression=Key("pk").eq(f"QUOTA_HOLDS#{user_id}")
            & Key("sk").lt(now.astimezone(UTC).isoformat()),
            ConsistentRead=True,
        )["Items"]
        for item in expired:
            self._release({"pk": item["pk"], "sk": item["sk"]}, json.loads(item["holds"]), {})

    def _settle(
        self, reservation: Reservation, row: UsageRow | None, subjects: list[str], now: datetime
    ) -> None:
        used: dict[tuple[str, str], float] = {}
        for subject in subjects if row else []:
            assert row is not None
            used[(subject, f"day:{utc_day(now)}")] = row.prompt_tokens + row.completion_tokens
            used[(subject, f"month:{utc_month(now)}")] = row.cost_usd
        holds = [{"subject": h.subject, "period": h.period, "amount": h.amount} for h in reservation.holds]
        hold_key = _hold_key(reservation.user_id, reservation.id, reservation.expires_at)
        if not self._release(hold_key, holds, used) and used:  # it expired and was given back already
            self._transact(
                [self._change(subject, period, amount, 0) for (subject, period), amount in used.items()]
            )
        if row is not None:
            self._count_usage(row)

    def _count_usage(self, row: UsageRow) -> None:
        self._table.put_item(Item=self._usage_item(row))
        self._add_to_sums(row, 1)

    @staticmethod
    def _usage_item(row: UsageRow) -> dict[str, Any]:
        return {
            "pk": f"QUOTA_USAGE#{row.user_id}",
            "sk": f"{row.day}#{secrets.token_hex(8)}",
            **{k: v for k, v in row.model_dump().items() if v is not None and k != "cost_usd"},
            "cost_usd": _number(row.cost_usd),
        }

    def _add_to_sums(self, row: UsageRow, answers: int) -> None:
        answer = {
            ":answers": answers,
            ":prompt": row.prompt_tokens,
            ":completion": row.completion_tokens,
            ":cost": _number(row.cost_usd),
        }
        add = "ADD answers :answers, prompt_tokens :prompt, completion_tokens :completion, cost_usd :cost"
        sums = [
            (
                {"pk": f"QUOTA_USER_DAY#{row.user_id}", "sk": f"{row.day}#{row.model}"},
                {"day": row.day, "model": row.model},
            ),
            (
                {"pk": f"QUOTA_DAY#{row.day}", "sk": f"{row.user_id}#{row.model}"},
                {"user_id": row.user_id, "model": row.model},
            ),
        ]
        if row.key_id:
            sums.append(
                (
                    {"pk": f"QUOTA_KEY_DAY#{row.user_id}", "sk": f"{row.day}#{row.key_id}"},
                    {"key_id": row.key_id},
                )
            )
        for key, labels in sums:
            names = {f"#l{i}": name for i, name in enumerate(labels)}
            values = {f":l{i}": value for i, value in enumerate(labels.values())}
            sets = ", ".join(f"#l{i} = :l{i}" for i in range(len(labels)))
            self._table.update_item(
                Key=key,
                UpdateExpression=f"SET {sets} {add}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**answer, **values},
            )

    def used(self, subject: str, period: str) -> float:
        item = self._table.get_item(Key=_counter_key(subject, period), ConsistentRead=True).get("Item") or {}
        return float(item.get("used", 0)) + float(item.get("held", 0))

    # -- limits and audit ---------------------------------------------------------------------

    def stored_limits(self) -> dict[str, Limits]:
        items = self._query(Key("pk").eq("QUOTA_LIMITS"))
        return {item["sk"]: Limits.model_validate_json(item["limits"]) for item in items}

    def _put_limits(self, scope: str, limits: Limits) -> None:
        self._table.put_item(Item={"pk": "QUOTA_LIMITS", "sk": scope, "limits": json.dumps(limits.given())})

    def record(self, entry: AuditEntry) -> None:
        self._table.put_item(
            Item={
                "pk": "AUDIT",
                "sk": f"{entry.at.astimezone(UTC).isoformat()}#{secrets.token_hex(4)}",
                "entry": entry.model_dump_json(),
            }
        )

    def audit_log(self, limit: int = 500) -> list[AuditEntry]:
        items = self._table.query(
            KeyConditionExpression=Key("pk").eq("AUDIT"), ScanIndexForward=False, Limit=limit
        )["Items"]
        return [AuditEntry.model_validate_json(item["entry"]) for item in items]

    # -- usage --------------------------------------------------------------------------------

    def _query(self, condition: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {"KeyConditionExpression": condition}
        while True:
            page = self._table.query(**arguments)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _total(item: dict[str, Any], **labels: Any) -> UsageTotal:
        return UsageTotal(
            **labels,
            answers=int(item.get("answers", 0)),
            prompt_tokens=int(item.get("prompt_tokens", 0)),
            completion_tokens=int(item.get("completion_tokens", 0)),
            cost_usd=float(item.get("cost_usd", 0)),
        )

    def usage_by_day_and_model(self, user_id: str, first_day: str, last_day: str) -> list[UsageTotal]:
        items = self._query(
            Key("pk").eq(f"QUOTA_USER_DAY#{user_id}") & Key("sk").between(first_day, last_day + "~")
        )
        return [self._total(item, day=item["day"], model=item["model"]) for item in items]

    def usage_by_user_and_model(self, first_day: str, last_day: str) -> list[UsageTotal]:
        # One partition per day: a month is 30 queries, which would be 30 round trips in a row,
        # so they go side by side (each thread has its own table resource).
        days = list(_days(first_day, last_day))
        with ThreadPoolExecutor(max_workers=max(1, min(_DAY_QUERIES_AT_ONCE, len(days)))) as pool:
            per_day = list(pool.map(lambda day: self._query(Key("pk").eq(f"QUOTA_DAY#{day}")), days))
        sums: dict[tuple[str, str], UsageTotal] = {}
        for items in per_day:
            for item in items:
                key = (str(item["user_id"]), str(item["model"]))
                total = self._total(item, user_id=key[0], model=key[1])
                sums[key] = _add(sums.get(key), total)
        return [sums[key] for key in sorted(sums)]

    def usage_by_key(self, user_id: str, first_day: str, last_day: str) -> list[UsageTotal]:
        sums: dict[str, UsageTotal] = {}
        for item in self._query(
            Key("pk").eq(f"QUOTA_KEY_DAY#{user_id}") & Key("sk").between(first_day, last_day + "~")
        ):
            key_id = str(item["key_id"])
            total = self._total(item, key_id=key_id)
            sums[key_id] = _add(sums.get(key_id), total)
        return [sums[key] for key in sorted(sums)]

    def add_usage_rows(self, rows: list[UsageRow]) -> None:
        """Usage rows written directly (imports, the benchmark's rows), counters untouched: the
        rows in batches, and each running sum once, with the rows' totals added."""
        sums: dict[tuple[str, str, str, str | None], list[float]] = {}
        with self._table.batch_writer() as batch:
            for row in rows:
                batch.put_item(Item=self._usage_item(row))
                total = sums.setdefault((row.user_id, row.day, row.model, row.key_id), [0, 0, 0, 0.0])
                total[0] += 1
                total[1] += row.prompt_tokens
                total[2] += row.completion_tokens
                total[3] += row.cost_usd
        for (user_id, day, model, key_id), (answers, prompt, completion, cost) in sums.items():
            summed = UsageRow(
                user_id=user_id,
                key_id=key_id,
                model=model,
                day=day,
                prompt_tokens=int(prompt),
                completion_tokens=int(completion),
                cost_usd=cost,
            )
            self._add_to_sums(summed, int(answers))


def _add(a: UsageTotal | None, b: UsageTotal) -> UsageTotal:
    if a is None:
        return b
    return a.model_copy(
        update={
            "answers": a.answers + b.answers,
            "prompt_tokens": a.prompt_tokens + b.prompt_tokens,
            "completion_tokens": a.completion_tokens + b.completion_tokens,
            "cost_usd": a.cost_usd + b.cost_usd,
        }
    )
