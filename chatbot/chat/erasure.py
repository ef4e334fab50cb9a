"""Deleting one user's data (issue 21, "Leaving"), in whichever store holds it.

Three places hold a user's data, and each has an eraser of its own:

- the history store's table(s), where conversations, shares, feedback, marks, API keys, arena
  votes and the quota ledger live: `PostgresErasure` (chatbot/chat/postgres_erasure.py) or
  `DynamoDBErasure` (chatbot/chat/dynamodb_erasure.py), one contract tested on both;
- the documents' Postgres (rows and vectors: chatbot/retrieval/document_erasure.py);
- the blob store: attachment files and uploaded document objects (S3 or the data folder).

Each eraser finds a user's data only by an exact match on the user id (never a prefix: `al`
must not erase `alice`), deletes what it finds, and counts it, so a second run finds nothing and
answers zeros. Arena votes are the exception: they are kept, with the user id replaced by one
opaque id per erasure (random, so it cannot be traced back by hashing names), so the leaderboard,
which counts votes, is the same before and after.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from chatbot.api.erasure import ErasureReport
from chatbot.errors import ChatbotError, InvalidRequestError

if TYPE_CHECKING:
    from chatbot.chat.attachments import Attachments
    from chatbot.chat.store import HistoryStore
    from chatbot.retrieval.store import PgVectorStore

#: What an anonymised vote's user id starts with: a reader sees it is nobody's name.
ERASED_PREFIX = "erased-"


def checked_user_id(user_id: str) -> str:
    """The id, unless it would name a folder beyond the user's own: empty (`attachments/` is
    every user's folder), `.` or `..` (`private/..` is the whole store), or holding a `/`. No
    user name nor Cognito sub is any of these."""
    if not user_id.strip():
        raise InvalidRequestError("Name the user whose data to delete: the name is empty.")
    if user_id.strip() in (".", "..") or "/" in user_id:
        raise InvalidRequestError(f"{user_id[:80]!r} cannot be a user's name: no data is deleted for it.")
    return user_id


def opaque_voter_id() -> str:
    """A new id for one erased user's votes: random, so it says nothing of whom it replaces."""
    return ERASED_PREFIX + secrets.token_hex(12)


class StoreErasure(Protocol):
    """Deletes one user's data from a history store's tables (and the quota ledger beside them)."""

    def erase_user(self, user_id: str) -> ErasureReport:
        """Deletes the user's conversations, shares, feedback, marks, API keys and usage
        details; gives their votes an opaque id. Idempotent; touches nobody else's data."""
        ...


def eraser_for(store: HistoryStore) -> StoreErasure:
    """The eraser over the same tables as this history store."""
    from chatbot.chat.dynamodb_store import DynamoDBHistoryStore

    if isinstance(store, DynamoDBHistoryStore):
        from chatbot.chat.dynamodb_erasure import DynamoDBErasure

        return DynamoDBErasure.of_store(store)
    from chatbot.chat.postgres_erasure import PostgresErasure
    from chatbot.chat.postgres_store import PostgresHistoryStore

    if isinstance(store, PostgresHistoryStore):
        return PostgresErasure.of_store(store)
    raise TypeError(f"No eraser for a {type(store).__name__}")


class ErasureIncompleteError(ChatbotError):
    """Part of a user's data is deleted and the rest is not (a bucket refused a file, the
    documents' database failed). `report` counts what went, for the audit log; running the
    deletion again carries on, since every eraser is idempotent."""

    code = "erasure_incomplete"
    http_status = 503

    def __init__(self, user_id: str, report: ErasureReport, cause: Exception):
        super().__init__(
            f"Part of {user_id!r}'s data is deleted, the rest is not ({cause}). Run the deletion "
            "again: it carries on where this one stopped."
        )
        self.report = report
        self.cause = cause


@dataclass
class UserDataErasure:
    """Everything of one user's, in every place it is kept (documents and blobs where there are)."""

    store: StoreErasure
    documents: PgVectorStore | None = None
    attachments: Attachments | None = None

    def erase(self, user_id: str) -> ErasureReport:
        from chatbot.retrieval.document_erasure import erase_documents

        checked_user_id(user_id)
        report = self.store.erase_user(user_id)
        try:
            if self.documents is not None:
                blobs = self.attachments.blobs if self.attachments is not None else None
                report += erase_documents(self.documents, user_id, blobs)
            if self.attachments is not None:
                report += self.attachments.erase_user(user_id)
        except Exception as exc:  # the history is gone already: say so, with what went
            raise ErasureIncompleteError(user_id, report, exc) from exc
        return report
