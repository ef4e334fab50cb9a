"""The DynamoDB HistoryStore (the cloud store).

One table, keyed so that everything is found through its owner:

| item    | pk                          | sk                 | gsi1 (newest first)                   |
|---------|-----------------------------|--------------------|---------------------------------------|
| session | USER#{user}                 | SESSION#{session}  | gsi1pk=USER#{user}, gsi1sk={updated}#{session} |
| message | USER#{user}#SESSION#{id}    | MSG#{seq:010d}     |                                       |
| vote    | VOTES                       | {session}#{round:010d} |                                   |
| arena counter | ARENA#{shard 0..15}   | the counter's key (cells.py) |                              |
| daily votes | USER#{user}             | ARENA_DAY#{day}#{models} |                                 |
| backfill done | ARENA                 | BACKFILLED         |                                       |
| stored fit, refit lease | see chatbot/chat/dynamodb_fits.py                                    |
| API key | see chatbot/chat/dynamodb_api_keys.py                                                    |

Each message is its own item, so a long conversation never meets DynamoDB's 400 KB item
limit. A message's seq comes from an atomic counter on the session item, and the message
is written with a condition that its key is new: concurrent writers never overwrite
each other and keep the order in which they got their seq.

A vote and the arena counters it adds to (chatbot/chat/cells.py) are one TransactWriteItems.
The counters are write-sharded: each vote adds to the copies in one of ARENA_SHARDS partitions,
drawn at random, so no one partition takes every vote; a read sums the shards.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chatbot.api.records import Lane, Message, Session, SessionPage, Vote
from chatbot.chat.cells import (
    ArenaCounts,
    CounterKey,
    counted_increments,
    encode_key,
    merge,
    voided_increments,
)
from chatbot.chat.cursor import InvalidCursorError, decode_cursor, encode_cursor
from chatbot.chat.dynamodb_api_keys import DynamoDBApiKeys
from chatbot.chat.dynamodb_everyday import DynamoDBEveryday
from chatbot.chat.dynamodb_fits import DynamoDBArenaFits
from chatbot.chat.store import SessionNotFoundError, VoteExistsError, stop_applies
from chatbot.chat.vote_rules import VoteRules, cast_time_reason, daily_key, over_limit_reason, void_reasons
from chatbot.dynamodb_table import PerThreadTable

#: The table layout; the Pulumi program creates the same (infra/components/chat_backend.py).
TABLE_SCHEMA: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "AttributeDefinitions": [
        {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "gsi1",
            "KeySchema": [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}

#: Every DynamoDB call this store makes, on the table and its index: the Pulumi program grants
#: exactly these (infra/components/chat_backend.py). BatchWriteItem: deleting a conversation's messages.
#: TransactWriteItems (the API-key cap) needs no action of its own: IAM checks each write in it.
IAM_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
)


#: Partitions the arena counters are spread over.
ARENA_SHARDS = 16


def _user_key(user_id: str) -> str:
    return f"USER#{user_id}"


def _start_key(user_id: str, cursor: str) -> dict[str, str]:
    """The last key of the previous page: the index's and the table's keys, of this user's own
    sessions (a key of anyone else's is refused, not queried)."""
    key = decode_cursor(cursor)
    fields = {"pk", "sk", "gsi1pk", "gsi1sk"}
    if (
        not isinstance(key, dict)
        or set(key) != fields
        or not all(isinstance(value, str) for value in key.values())
        or key["gsi1pk"] != _user_key(user_id)
    ):
        raise InvalidCursorError()
    return key


def _messages_key(user_id: str, session_id: str) -> str:
    return f"USER#{user_id}#SESSION#{session_id}"


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


class DynamoDBHistoryStore(DynamoDBApiKeys, DynamoDBEveryday, DynamoDBArenaFits):
    def __init__(self, table_name: str, *, region: str | None = None):
        self.table_name = table_name
        self._region = region

    _table = PerThreadTable()

    def _session_key(self, user_id: str, session_id: str) -> dict[str, str]:
        return {"pk": _user_key(user_id), "sk": f"SESSION#{session_id}"}

    def create_session(self, session: Session) -> Session:
        self._table.put_item(
            Item={
                **self._session_key(session.user_id, session.id),
                "gsi1pk": _user_key(session.user_id),
                "gsi1sk": f"{session.updated_at.isoformat()}#{session.id}",
                "id": session.id,
                "user_id": session.user_id,
                "title": session.title,
                "kind": session.kind,
                "lanes": json.dumps([lane.model_dump() for lane in session.lanes]),
                "created_at": session.created_at.isoformat(),
                "updated_at": session.updated_at.isoformat(),
                "message_count": 0,
                "stop_requests": {},
                # Issue 21; absent from the items of earlier releases, and when there is none.
                **({"preset": session.preset} if session.preset else {}),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        return session

    @staticmethod
    def _session(item: dict[str, Any]) -> Session:
        return Session(
            id=item["id"],
            user_id=item["user_id"],
            title=item["title"],
            kind=item["kind"],
            lanes=[Lane.model_validate(lane) for lane in json.loads(item["lanes"])],
            created_at=datetime.fromisoformat(item["created_at"]),
            updated_at=datetime.fromisoformat(item["updated_at"]),
            message_count=int(item["message_count"]),
            preset=item.get("preset"),
        )

    def _session_item(self, user_id: str, session_id: str) -> dict[str, Any]:
        item = self._table.get_item(Key=self._session_key(user_id, session_id), ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            raise SessionNotFoundError(session_id)
        return item

    def get_session(self, user_id: str, session_id: str) -> Session:
        return self._session(self._session_item(user_id, session_id))

    def list_sessions(self, user_id: str, *, limit: int = 20, cursor: str | None = None) -> SessionPage:
        query: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :user",
            "ExpressionAttributeValues": {":user": _user_key(user_id)},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            query["ExclusiveStartKey"] = _start_key(user_id, cursor)
        response = self._table.query(**query)
        last = response.get("LastEvaluatedKey")
        return SessionPage(
            sessions=[self._session(item) for item in response["Items"]],
            cursor=encode_cursor(last) if last else None,
        )

    def rename_session(self, user_id: str, session_id: str, title: str) -> Session:
        try:
            response = self._table.update_item(
                Key=self._session_key(user_id, session_id),
                UpdateExpression="SET title = :title",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":title": title},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise SessionNotFoundError(session_id) from None
            raise
        return self._session(response["Attributes"])

    def delete_session(self, user_id: str, session_id: str) -> None:
        # The session item goes first: from then on the conversation is gone for the user,
        # even if deleting its messages is interrupted.
        try:
            self._table.delete_item(
                Key=self._session_key(user_id, session_id), ConditionExpression="attribute_exists(pk)"
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise SessionNotFoundError(session_id) from None
            raise
        keys = self._query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _messages_key(user_id, session_id)},
            ProjectionExpression="pk, sk",
        )
        with self._table.batch_writer() as batch:
            for key in keys:
                batch.delete_item(Key=key)

    def delete_all_sessions(self, user_id: str) -> int:
        sessions = self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": _user_key(user_id), ":prefix": "SESSION#"},
            ProjectionExpression="id",
        )
        deleted = 0
        for session in sessions:
            try:
                self.delete_session(user_id, session["id"])
                deleted += 1
            except SessionNotFoundError:
                pass  # deleted meanwhile by another request
        return deleted

    def _query_all(self, **query: Any) -> list[dict[str, Any]]:
        items, start = [], None
        while True:
            response = self._table.query(**query, **({"ExclusiveStartKey": start} if start else {}))
            items.extend(response["Items"])
            start = response.get("LastEvaluatedKey")
            if not start:
                return items

    def append_message(self, user_id: str, session_id: str, message: Message) -> Message:
        stamp = message.created_at.isoformat()
        try:
            response = self._table.update_item(
                Key=self._session_key(user_id, session_id),
                UpdateExpression="SET message_count = message_count + :one, updated_at = :now, gsi1sk = :order",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":one": 1, ":now": stamp, ":order": f"{stamp}#{session_id}"},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise SessionNotFoundError(session_id) from None
            raise
        stored = message.model_copy(update={"seq": int(response["Attributes"]["message_count"])})
        self._table.put_item(
            Item={
                "pk": _messages_key(user_id, session_id),
                "sk": f"MSG#{stored.seq:010d}",
                "body": stored.model_dump_json(),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        return stored

    def list_messages(self, user_id: str, session_id: str) -> list[Message]:
        items = self._query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _messages_key(user_id, session_id)},
            ConsistentRead=True,
        )
        if not items:
            self.get_session(user_id, session_id)  # raises for a missing (or someone else's) session
        return [Message.model_validate_json(item["body"]) for item in items]

    def request_stop(self, user_id: str, session_id: str, lane: str | None, at: datetime) -> None:
        try:
            self._table.update_item(
                Key=self._session_key(user_id, session_id),
                UpdateExpression="SET stop_requests.#lane = :at",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#lane": lane or "*"},
                ExpressionAttributeValues={":at": at.isoformat()},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise SessionNotFoundError(session_id) from None
            raise

    def stop_requested(self, user_id: str, session_id: str, lane: str | None, started_at: datetime) -> bool:
        item = self._table.get_item(
            Key=self._session_key(user_id, session_id),
            ConsistentRead=True,
            ProjectionExpression="stop_requests",
        ).get("Item")
        return item is not None and stop_applies(item.get("stop_requests", {}), lane, started_at)

    def add_vote(self, vote: Vote, *, max_per_pair_per_day: int | None = None) -> Vote:
        reason = cast_time_reason(vote) if vote.anonymous else vote.void_reason
        vote = vote.model_copy(update={"void_reason": reason})
        limited = vote.anonymous and reason is None and max_per_pair_per_day is not None
        try:
            self._write_vote(vote, daily_limit=max_per_pair_per_day if limited else None)
        except ClientError as exc:
            if _cancelled_at(exc, 0):
                raise VoteExistsError() from None
            if not (limited and _cancelled_at(exc, 1)):
                raise
            vote = vote.model_copy(update={"void_reason": over_limit_reason(max_per_pair_per_day or 0)})
            try:
                self._write_vote(vote, daily_limit=None)
            except ClientError as again:
                if _cancelled_at(again, 0):
                    raise VoteExistsError() from None
                raise
        return vote

    def _write_vote(self, vote: Vote, *, daily_limit: int | None) -> None:
        """The vote, its daily count (under the limit, or the whole write fails) and its
        counters, in one transaction. Write 0 is the vote, write 1 the daily count."""
        table = self._table.name
        writes: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": table,
                    "Item": self._vote_item(vote),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        if daily_limit is not None:
            user, models, day = daily_key(vote)
            writes.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": _user_key(user), "sk": f"ARENA_DAY#{day}#{models}"},
                        "UpdateExpression": "ADD n :one",
                        "ConditionExpression": "attribute_not_exists(n) OR n < :limit",
                        "ExpressionAttributeValues": {":one": 1, ":limit": daily_limit},
                    }
                }
            )
        if vote.anonymous:
            writes.extend(_counter_updates(table, _increments(vote)))
        _transact(self._table.meta.client, writes)

    @staticmethod
    def _vote_item(vote: Vote) -> dict[str, Any]:
        return {
            "pk": "VOTES",
            "sk": f"{vote.session_id}#{vote.round:010d}",
            "anonymous": vote.anonymous,
            "body": vote.model_dump_json(),
            "tallied": True,  # its counters are written with it: the upgrade's backfill skips it
        }

    def add_votes(self, votes: Sequence[Vote]) -> int:
        added = 0
        for vote in votes:
            try:
                self.add_vote(vote)
                added += 1
            except VoteExistsError:
                pass  # imported before: the round already has its vote
        return added

    def arena_counts(self) -> ArenaCounts:
        rows: list[tuple[str, int]] = []  # (counter key, count)
        for shard in range(ARENA_SHARDS):
            items = self._query_all(
                KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"ARENA#{shard}"}
            )
            rows.extend((item["sk"], int(item.get("n", 0))) for item in items)
        return merge(rows)

    def backfill_arena_counts(self) -> int:
        """On upgrade: add the counters of votes stored before they were kept. Each vote is
        marked tallied in the transaction that adds its counters, so a backfill that runs twice,
        or beside another, counts each vote once. Returns how many votes it counted in."""
        marker = {"pk": "ARENA", "sk": "BACKFILLED"}
        if "Item" in self._table.get_item(Key=marker, ConsistentRead=True):
            return 0
        items = self._query_all(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": "VOTES"})
        votes = sorted(
            (Vote.model_validate_json(item["body"]) for item in items if item.get("anonymous")),
            key=lambda vote: vote.created_at,
        )
        untallied = {item["sk"] for item in items if not item.get("tallied")}
        done = 0
        # The daily limit is judged over every vote, in order, as at vote time.
        for vote, reason in zip(votes, void_reasons(votes, VoteRules()), strict=True):
            sk = f"{vote.session_id}#{vote.round:010d}"
            if sk not in untallied:
                continue
            increments = voided_increments(reason) if reason else counted_increments(vote)
            try:
                _transact(
                    self._table.meta.client,
                    [
                        {
                            "Update": {
                                "TableName": self._table.name,
                                "Key": {"pk": "VOTES", "sk": sk},
                                "UpdateExpression": "SET tallied = :yes",
                                "ConditionExpression": "attribute_not_exists(tallied)",
                                "ExpressionAttributeValues": {":yes": True},
                            }
                        },
                        *_counter_updates(self._table.name, increments),
                    ],
                )
                done += 1
            except ClientError as exc:
                if not _cancelled_at(exc, 0):
                    raise  # else: another backfill counted it first
        self._table.put_item(Item=marker)
        return done

    def list_votes(self, *, anonymous_only: bool = True) -> list[Vote]:
        items = self._query_all(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": "VOTES"})
        votes = [Vote.model_validate_json(item["body"]) for item in items]
        votes = [vote for vote in votes if vote.anonymous or not anonymous_only]
        return sorted(votes, key=lambda vote: vote.created_at)

    def session_votes(self, session_id: str) -> list[Vote]:
        items = self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :session)",
            ExpressionAttributeValues={":pk": "VOTES", ":session": f"{session_id}#"},
        )
        return [Vote.model_validate_json(item["body"]) for item in items]


def _increments(vote: Vote) -> Counter[CounterKey]:
    return voided_increments(vote.void_reason) if vote.void_reason else counted_increments(vote)


def _counter_updates(table: str, increments: Counter[CounterKey]) -> list[dict[str, Any]]:
    shard = random.randrange(ARENA_SHARDS)
    return [
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": f"ARENA#{shard}", "sk": encode_key(key)},
                "UpdateExpression": "ADD n :n",
                "ExpressionAttributeValues": {":n": n},
            }
        }
        for key, n in sorted(increments.items())
        if n
    ]


#: Tries of a transaction that DynamoDB cancelled because another one held a counter it writes.
_CONFLICT_TRIES = 8


def _transact(client: Any, writes: list[dict[str, Any]]) -> None:
    """TransactWriteItems, tried again (with jitter) while it only lost a race on a counter:
    votes on the same cell and shard at the same instant conflict, and neither is wrong."""
    for attempt in range(_CONFLICT_TRIES):
        try:
            client.transact_write_items(TransactItems=writes)
            return
        except ClientError as exc:
            codes = {reason.get("Code") for reason in exc.response.get("CancellationReasons") or []}
            if "TransactionConflict" not in codes or "ConditionalCheckFailed" in codes:
                raise
            if attempt == _CONFLICT_TRIES - 1:
                raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))


def _cancelled_at(exc: ClientError, index: int) -> bool:
    """Whether a cancelled transaction failed the condition of its `index`th write."""
    if exc.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    return index < len(reasons) and reasons[index].get("Code") == "ConditionalCheckFailed"
