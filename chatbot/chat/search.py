"""History search, pins and folders (issue 23).

Search finds the user's conversations whose title, or one of whose messages, holds every word
asked for. Postgres uses its full-text search ('simple' configuration: words as written, any
language, no stemming) over indexes on titles and messages. DynamoDB has no text index: it
reads the user's own partition, newest conversations first, up to DYNAMODB_SEARCH_SESSIONS of
them, and says so in the answer when it stopped there.

Marks (pinned, folder) are kept per user and conversation, apart from the session itself, and
go with it when it is deleted.
"""

from __future__ import annotations

import re
from typing import Protocol

from chatbot.api.everyday import MAX_QUERY_CHARS, MarkRequest, SearchResults, SessionMark
from chatbot.errors import InvalidRequestError

#: DynamoDB: the most conversations one search reads (their messages included).
DYNAMODB_SEARCH_SESSIONS = 200
#: The most hits one search returns.
MAX_HITS = 50
#: Characters of a message shown around a match.
SNIPPET_CHARS = 160


class SearchStore(Protocol):
    def search_sessions(self, user_id: str, query: str, *, limit: int) -> SearchResults: ...

    def mark_session(self, user_id: str, session_id: str, pinned: bool, folder: str | None) -> SessionMark:
        """Raises SessionNotFoundError for a session that is not the user's."""
        ...

    def list_marks(self, user_id: str) -> list[SessionMark]:
        """The user's pinned or filed conversations, pinned first, then by folder and newest."""
        ...


def clean_query(query: str) -> str:
    query = " ".join(query.split())
    if not query:
        raise InvalidRequestError("q: say what to search for, e.g. /sessions/search?q=river")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidRequestError(f"q: a search is at most {MAX_QUERY_CHARS} characters.")
    return query


def clean_mark(request: MarkRequest) -> tuple[bool, str | None]:
    folder = " ".join((request.folder or "").split()) or None
    return request.pinned, folder


def terms(query: str) -> list[str]:
    """The words of a search, as the DynamoDB store matches them (case-folded)."""
    return [word for word in re.findall(r"\w+", query.casefold()) if word]


def matches(text: str, words: list[str]) -> bool:
    folded = text.casefold()
    return bool(words) and all(re.search(rf"\b{re.escape(word)}\b", folded) for word in words)


def snippet(text: str, words: list[str]) -> str:
    """Some text around the first word found, in one line."""
    flat = " ".join(text.split())
    found = [flat.casefold().find(word) for word in words]
    start = max(0, min((at for at in found if at >= 0), default=0) - SNIPPET_CHARS // 3)
    piece = flat[start : start + SNIPPET_CHARS]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET_CHARS < len(flat) else "")


def order_marks(marks: list[SessionMark]) -> list[SessionMark]:
    return sorted(
        marks,
        key=lambda m: (not m.pinned, (m.folder or "").casefold(), -m.updated_at.timestamp(), m.session_id),
    )
