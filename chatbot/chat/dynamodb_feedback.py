"""Feedback in the DynamoDB history table (mixed into DynamoDBHistoryStore through
dynamodb_everyday.py).

| item             | pk                | sk                              |
|------------------|-------------------|---------------------------------|
| feedback         | FEEDBACK          | {session}#{seq:010d}#{user}     |
| counter          | FEEDBACK_COUNTS   | up|model, down|model, void|reason (attribute n) |

The thumb is put on the condition that its key is new, in one transaction with the ADD to its
counter: a second thumb on the same answer fails whole and counts nothing. (All feedback shares
one partition, as the votes do: fine at a thumb a second; the counters keep reads small.)
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chatbot.chat.feedback import Feedback, FeedbackCounts, FeedbackExistsError, counter_key, counts_of

_FEEDBACK = "FEEDBACK"
_COUNTS = "FEEDBACK_COUNTS"


def _query_all(table: Any, **query: Any) -> list[dict[str, Any]]:
    items, start = [], None
    while True:
        response = table.query(**query, **({"ExclusiveStartKey": start} if start else {}))
        items.extend(response["Items"])
        start = response.get("LastEvaluatedKey")
        if not start:
            return items


class DynamoDBFeedback:
    _table: Any  # provided by DynamoDBHistoryStore

    def add_feedback(self, feedback: Feedback) -> Feedback:
        table = self._table.name
        try:
            self._table.meta.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {
                                "pk": _FEEDBACK,
                                "sk": f"{feedback.session_id}#{feedback.seq:010d}#{feedback.user_id}",
                                "user_id": feedback.user_id,
                                "body": feedback.model_dump_json(),
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"pk": _COUNTS, "sk": counter_key(feedback)},
                            "UpdateExpression": "ADD n :one",
                            "ExpressionAttributeValues": {":one": 1},
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise FeedbackExistsError() from None
            raise
        return feedback

    def session_feedback(self, user_id: str, session_id: str) -> list[Feedback]:
        items = _query_all(
            self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :session)",
            ExpressionAttributeValues={":pk": _FEEDBACK, ":session": f"{session_id}#"},
            ConsistentRead=True,
        )
        return [Feedback.model_validate_json(item["body"]) for item in items if item["user_id"] == user_id]

    def list_feedback(self) -> list[Feedback]:
        items = _query_all(
            self._table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": _FEEDBACK}
        )
        return sorted(
            (Feedback.model_validate_json(item["body"]) for item in items),
            key=lambda f: (f.created_at, f.session_id, f.seq),
        )

    def feedback_counts(self) -> FeedbackCounts:
        items = _query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _COUNTS},
            ConsistentRead=True,
        )
        return counts_of((item["sk"], int(item.get("n", 0))) for item in items)
