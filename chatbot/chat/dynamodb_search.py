"""History search and marks in the DynamoDB history table (mixed into DynamoDBHistoryStore
through dynamodb_everyday.py).

| item | pk          | sk                 | attributes            |
|------|-------------|--------------------|-----------------------|
| mark | USER#{user} | MARK#{session}     | pinned, folder        |

DynamoDB has no text index: a search reads, within the user's own partition, the newest
DYNAMODB_SEARCH_SESSIONS conversations and their messages, and matches every word (case-folded,
whole words) in the title or in one message. The answer says when older conversations were left
unsearched. A mark whose session has gone is dropped when the marks are listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatbot.api.everyday import SearchResults, SessionHit, SessionMark
from chatbot.chat.search import DYNAMODB_SEARCH_SESSIONS, matches, order_marks, snippet, terms
from chatbot.chat.store import SessionNotFoundError

if TYPE_CHECKING:
    from chatbot.api.records import Message, Session, SessionPage


class DynamoDBSearch:
    _table: Any  # provided by DynamoDBHistoryStore

    if TYPE_CHECKING:  # the history's reads, provided by DynamoDBHistoryStore

        def get_session(self, user_id: str, session_id: str) -> Session: ...

        def list_sessions(
            self, user_id: str, *, limit: int = 20, cursor: str | None = None
        ) -> SessionPage: ...

        def list_messages(self, user_id: str, session_id: str) -> list[Message]: ...

    def search_sessions(self, user_id: str, query: str, *, limit: int) -> SearchResults:
        words = terms(query)
        hits: list[SessionHit] = []
        page = self.list_sessions(user_id, limit=DYNAMODB_SEARCH_SESSIONS)
        for session in page.sessions:
            if len(hits) >= limit:
                break
            found = next(
                (m.content for m in self.list_messages(user_id, session.id) if matches(m.content, words)),
                None,
            )
            if found is not None or matches(session.title, words):
                hits.append(
                    SessionHit(
                        id=session.id,
                        title=session.title,
                        kind=session.kind,
                        updated_at=session.updated_at,
                        snippet=snippet(found, words) if found is not None else None,
                    )
                )
        complete = page.cursor is None
        note = (
            None
            if complete
            else f"Searched your {DYNAMODB_SEARCH_SESSIONS} most recent conversations; older ones were not searched."
        )
        return SearchResults(hits=hits, complete=complete, note=note)

    def mark_session(self, user_id: str, session_id: str, pinned: bool, folder: str | None) -> SessionMark:
        session = self.get_session(user_id, session_id)  # 404 if not theirs
        key = {"pk": f"USER#{user_id}", "sk": f"MARK#{session_id}"}
        if pinned or folder:
            self._table.put_item(
                Item={
                    **key,
                    "session_id": session_id,
                    "pinned": pinned,
                    **({"folder": folder} if folder else {}),
                }
            )
        else:
            self._table.delete_item(Key=key)
        return SessionMark(
            session_id=session.id,
            title=session.title,
            kind=session.kind,
            updated_at=session.updated_at,
            pinned=pinned,
            folder=folder,
        )

    def list_marks(self, user_id: str) -> list[SessionMark]:
        items, start = [], None
        while True:
            response = self._table.query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :marks)",
                ExpressionAttributeValues={":pk": f"USER#{user_id}", ":marks": "MARK#"},
                ConsistentRead=True,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            items.extend(response["Items"])
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        marks = []
        for item in items:
            try:
                session = self.get_session(user_id, item["session_id"])
            except SessionNotFoundError:
                self._table.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})  # its session is gone
                continue
            marks.append(
                SessionMark(
                    session_id=session.id,
                    title=session.title,
                    kind=session.kind,
                    updated_at=session.updated_at,
                    pinned=bool(item.get("pinned")),
                    folder=item.get("folder"),
                )
            )
        return order_marks(marks)
