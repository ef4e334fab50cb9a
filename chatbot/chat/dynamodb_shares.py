"""Share links in the DynamoDB history table (mixed into DynamoDBHistoryStore through
dynamodb_everyday.py).

| item          | pk             | sk             | gsi1 (newest first)                          |
|---------------|----------------|----------------|----------------------------------------------|
| link          | SHARE#{id}     | LINK           | gsi1pk=SHARES#{user}, gsi1sk={created}#{id}  |
| its messages  | SHARE#{id}     | MSG#{seq:010d} |                                              |

The snapshot's messages are items of their own, as a session's are, so a long conversation
never meets the 400 KB item limit. They are written before the link item: a link is only found
once its whole snapshot is there. Revoking sets revoked_at on the condition that the caller
owns the link.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chatbot.api.everyday import SharedMessage
from chatbot.chat.shares import Share, ShareNotFoundError

_LINK = "LINK"


def _pk(share_id: str) -> str:
    return f"SHARE#{share_id}"


def _link(item: dict[str, Any]) -> Share:
    return Share(
        id=item["id"],
        user_id=item["user_id"],
        session_id=item["session_id"],
        title=item["title"],
        kind=item["kind"],
        public=bool(item["public"]),
        created_at=datetime.fromisoformat(item["created_at"]),
        revoked_at=datetime.fromisoformat(item["revoked_at"]) if item.get("revoked_at") else None,
    )


class DynamoDBShares:
    _table: Any  # provided by DynamoDBHistoryStore

    def add_share(self, share: Share) -> Share:
        with self._table.batch_writer() as batch:
            for message in share.messages:
                batch.put_item(
                    Item={
                        "pk": _pk(share.id),
                        "sk": f"MSG#{message.seq:010d}",
                        "body": message.model_dump_json(),
                    }
                )
        self._table.put_item(
            Item={
                "pk": _pk(share.id),
                "sk": _LINK,
                "gsi1pk": f"SHARES#{share.user_id}",
                "gsi1sk": f"{share.created_at.isoformat()}#{share.id}",
                **share.model_dump(mode="json", exclude={"messages"}, exclude_none=True),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        return share

    def find_share(self, share_id: str) -> Share | None:
        items, start = [], None
        while True:
            response = self._table.query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": _pk(share_id)},
                ConsistentRead=True,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            items.extend(response["Items"])
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        link = next((item for item in items if item["sk"] == _LINK), None)
        if link is None:
            return None
        messages = [SharedMessage.model_validate_json(item["body"]) for item in items if item["sk"] != _LINK]
        return _link(link).model_copy(update={"messages": sorted(messages, key=lambda m: m.seq)})

    def list_shares(self, user_id: str) -> list[Share]:
        items, start = [], None
        while True:
            response = self._table.query(
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :owner",
                ExpressionAttributeValues={":owner": f"SHARES#{user_id}"},
                ScanIndexForward=False,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            items.extend(response["Items"])
            start = response.get("LastEvaluatedKey")
            if not start:
                return [_link(item) for item in items]

    def revoke_share(self, user_id: str, share_id: str, at: datetime) -> Share:
        try:
            response = self._table.update_item(
                Key={"pk": _pk(share_id), "sk": _LINK},
                UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :at)",
                ConditionExpression="user_id = :owner",
                ExpressionAttributeValues={":at": at.isoformat(), ":owner": user_id},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ShareNotFoundError() from None
            raise
        return _link(response["Attributes"])
