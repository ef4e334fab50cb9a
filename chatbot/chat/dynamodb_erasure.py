"""Deleting one user's data from the DynamoDB history table: the history's items, and the quota
ledger's items kept in the same table (chatbot/chat/erasure.py says what goes and what stays).

Every item is found by a partition key built from the exact user id (`USER#al` is not a prefix
of `USER#alice`: a query matches the whole partition key), or, in the partitions everyone
shares (feedback, votes, the organisation's day sums), by the user id the item itself carries.
DynamoDB has no transaction over thousands of items: the erasure is a sequence of deletes, each
safe to repeat, so an interrupted one is finished by running it again.
"""

from __future__ import annotations

import json
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from chatbot.api.erasure import ErasureReport
from chatbot.chat.dynamodb_store import DynamoDBHistoryStore
from chatbot.chat.erasure import checked_user_id, opaque_voter_id
from chatbot.policy.quotas import subject_of_key, subject_of_user


class DynamoDBErasure:
    def __init__(self, store: DynamoDBHistoryStore):
        self._store = store

    @classmethod
    def of_store(cls, store: DynamoDBHistoryStore) -> DynamoDBErasure:
        return cls(store)

    @property
    def _table(self) -> Any:
        return self._store._table  # the store's per-thread table resource

    def erase_user(self, user_id: str) -> ErasureReport:
        checked_user_id(user_id)
        key_ids, api_keys = self._erase_api_keys(user_id)
        sessions, messages = self._erase_sessions(user_id)
        return ErasureReport(
            sessions=sessions,
            messages=messages,
            api_keys=api_keys,
            shares=self._erase_shares(user_id),
            feedback=self._erase_feedback(user_id),
            marks=self._erase_own_partition(user_id),
            votes_anonymised=self._anonymise_votes(user_id),
            **self._erase_usage(user_id, key_ids),
        )

    # -- history ------------------------------------------------------------------------------

    def _erase_api_keys(self, user_id: str) -> tuple[list[str], int]:
        keys = self._query(IndexName="gsi1", KeyConditionExpression=Key("gsi1pk").eq(f"APIKEYS#{user_id}"))
        self._delete([{"pk": item["pk"], "sk": item["sk"]} for item in keys])
        self._delete([{"pk": f"APIKEYS#{user_id}", "sk": "ACTIVE"}])  # the active-key count
        return [item["id"] for item in keys], len(keys)

    def _erase_sessions(self, user_id: str) -> tuple[int, int]:
        sessions = self._query(
            KeyConditionExpression=Key("pk").eq(f"USER#{user_id}") & Key("sk").begins_with("SESSION#"),
            ProjectionExpression="pk, sk, id",
        )
        messages = 0
        for session in sessions:
            # Messages first: a session item that outlives an interruption lets a rerun find them.
            items = self._query(
                KeyConditionExpression=Key("pk").eq(f"USER#{user_id}#SESSION#{session['id']}"),
                ProjectionExpression="pk, sk",
            )
            self._delete(items)
            messages += len(items)
            self._delete([{"pk": session["pk"], "sk": session["sk"]}])
        return len(sessions), messages

    def _erase_shares(self, user_id: str) -> int:
        links = self._query(IndexName="gsi1", KeyConditionExpression=Key("gsi1pk").eq(f"SHARES#{user_id}"))
        for link in links:
            snapshot = self._query(
                KeyConditionExpression=Key("pk").eq(link["pk"]), ProjectionExpression="pk, sk"
            )
            # The link last: while it stands, a rerun finds its snapshot through it.
            self._delete([item for item in snapshot if item["sk"] != "LINK"])
            self._delete([{"pk": link["pk"], "sk": "LINK"}])
        return len(links)

    def _erase_feedback(self, user_id: str) -> int:
        """The thumbs only: the approval counters name nobody and stay as they are."""
        items = self._query(
            KeyConditionExpression=Key("pk").eq("FEEDBACK"),
            FilterExpression=Attr("user_id").eq(user_id),
            ProjectionExpression="pk, sk",
        )
        self._delete(items)
        return len(items)

    def _erase_own_partition(self, user_id: str) -> int:
        """What is left in the user's partition once the sessions are gone: marks (counted) and
        the arena's daily vote counts, which move to the votes' opaque id in _anonymise_votes."""
        items = self._query(
            KeyConditionExpression=Key("pk").eq(f"USER#{user_id}") & Key("sk").begins_with("MARK#"),
            ProjectionExpression="pk, sk",
        )
        self._delete(items)
        return len(items)

    def _anonymise_votes(self, user_id: str) -> int:
        voter = opaque_voter_id()
        votes = self._query(KeyConditionExpression=Key("pk").eq("VOTES"))
        anonymised = 0
        for item in votes:
            body = json.loads(item["body"])
            if body.get("user_id") != user_id:
                continue
            # Only the user id changes, in the body as stored (a vote of an older release keeps
            # its shape); `anonymous` and `tallied` stay, and the counters are untouched.
            self._table.update_item(
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET body = :body",
                ConditionExpression="body = :old",
                ExpressionAttributeValues={
                    ":body": json.dumps({**body, "user_id": voter}),
                    ":old": item["body"],
                },
            )
            anonymised += 1
        days = self._query(
            KeyConditionExpression=Key("pk").eq(f"USER#{user_id}") & Key("sk").begins_with("ARENA_DAY#")
        )
        for day in days:
            self._table.put_item(Item={**day, "pk": f"USER#{voter}"})
        self._delete([{"pk": day["pk"], "sk": day["sk"]} for day in days])
        return anonymised

    # -- the quota ledger (chatbot/policy/dynamodb_quotas.py) ---------------------------------

    def _erase_usage(self, user_id: str, key_ids: list[str]) -> dict[str, int]:
        rows = self._query(
            KeyConditionExpression=Key("pk").eq(f"QUOTA_USAGE#{user_id}"), ProjectionExpression="pk, sk"
        )
        self._delete(rows)
        # The day sums built from the rows: the user's own, and their lines in the organisation's.
        user_days = self._query(KeyConditionExpression=Key("pk").eq(f"QUOTA_USER_DAY#{user_id}"))
        organisation = [
            {"pk": f"QUOTA_DAY#{item['day']}", "sk": f"{user_id}#{item['model']}"} for item in user_days
        ]
        self._delete(organisation)
        self._delete([{"pk": item["pk"], "sk": item["sk"]} for item in user_days])
        self._delete(
            self._query(
                KeyConditionExpression=Key("pk").eq(f"QUOTA_KEY_DAY#{user_id}"), ProjectionExpression="pk, sk"
            )
        )
        holds = self._query(
            KeyConditionExpression=Key("pk").eq(f"QUOTA_HOLDS#{user_id}"), ProjectionExpression="pk, sk"
        )
        self._delete(holds)
        subjects = [subject_of_user(user_id), *(subject_of_key(key) for key in key_ids)]
        counters = 0
        for subject in subjects:
            items = self._query(
                KeyConditionExpression=Key("pk").eq(f"QUOTA#{subject}"), ProjectionExpression="pk, sk"
            )
            self._delete(items)
            counters += len(items)
        self._delete([{"pk": f"STREAM_LEASES#{user_id}", "sk": "LEASES"}])  # ended streams': not counted
        limits = sum(self._delete_if_present({"pk": "QUOTA_LIMITS", "sk": subject}) for subject in subjects)
        return {"usage_rows": len(rows), "holds": len(holds), "counters": counters, "limits": limits}

    # -- plumbing -----------------------------------------------------------------------------

    def _query(self, **query: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self._table.query(**query)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete(self, keys: list[dict[str, Any]]) -> None:
        with self._table.batch_writer() as batch:
            for key in keys:
                batch.delete_item(Key={"pk": key["pk"], "sk": key["sk"]})

    def _delete_if_present(self, key: dict[str, str]) -> bool:
        try:
            self._table.delete_item(Key=key, ConditionExpression="attribute_exists(pk)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
