"""The DynamoDB HistoryStore (the cloud store).

One table, keyed so that everything is found through its owner:

| item    | pk                          | sk                 | gsi1 (newest first)                   |
|---------|-----------------------------|--------------------|---------------------------------------|
| session | USER#{user}                 | SESSION#{session}  | gsi1pk=USER#{user}, gsi1sk={updated}#{session} |
| message | USER#{user}#SESSION#{id}    | MSG#{seq:010d}     |                                       |
| vote    | VOTES                       | {session}#{round:010d} |                                   |
| API key | see chatbot/chat/dynamodb_api_keys.py                                                    |

Each message is its own item, so a long conversation never meets DynamoDB's 400 KB item
limit. A message's seq comes from an atomic counter on the session item, and the message
is written with a condition that its key is new: concurrent writers never overwrite
each other and keep the order in which they got their seq.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chatbot.chat.cursor import InvalidCursorError, decode_cursor, encode_cursor
from chatbot.chat.dynamodb_api_keys import DynamoDBApiKeys
from chatbot.chat.records import Lane, Message, Session, SessionPage, Vote
from chatbot.chat.store import SessionNotFoundError, VoteExistsError, stop_applies

#: The table layout; the Pulumi program creates the same (infra/chat_backend.py).
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
#: exactly these (infra/chat_backend.py). BatchWriteItem: deleting a conversation's messages.
#: TransactWriteItems (the API-key cap) needs no action of its own: IAM checks each write in it.
IAM_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
)


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


class DynamoDBHistoryStore(DynamoDBApiKeys):
    def __init__(self, table_name: str, *, region: str | None = None):
        self.table_name = table_name
        self._region = region
        self._local = threading.local()

    @property
    def _table(self) -> Any:
        # boto3 resources are not thread-safe, and compare lanes save from their own threads.
        table = getattr(self._local, "table", None)
        if table is None:
            table = boto3.resource("dynamodb", region_name=self._region).Table(self.table_name)
            self._local.table = table
        return table

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

    def add_vote(self, vote: Vote) -> Vote:
        try:
            self._table.put_item(
                Item={
                    "pk": "VOTES",
                    "sk": f"{vote.session_id}#{vote.round:010d}",
                    "anonymous": vote.anonymous,
                    "body": vote.model_dump_json(),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise VoteExistsError() from None
            raise
        return vote

    def add_votes(self, votes: Sequence[Vote]) -> int:
        added = 0
        for vote in votes:
            try:
                self.add_vote(vote)
                added += 1
            except VoteExistsError:
                pass  # imported before: the round already has its vote
        return added

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
