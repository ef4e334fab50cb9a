"""The chat API's everyday routes (issue 23) for the web app: feedback, share links, search.

Kept beside ChatApi rather than in it, so this feature's client grows in its own module; each
call goes through ChatApi's one request path (its token, its errors in a user's words)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import TypeAdapter

from chatbot.api.everyday import (
    Approvals,
    FeedbackOut,
    FeedbackRequest,
    MarkRequest,
    Rating,
    SearchResults,
    SessionMark,
    SharedConversation,
    ShareOut,
)
from streamlit_app.api import ChatApi, _parse


def _call(api: ChatApi, method: str, path: str, **kwargs: Any) -> Any:
    return api._json(method, path, **kwargs)  # ChatApi's one request path, on purpose


def give_feedback(
    api: ChatApi, session_id: str, seq: int, rating: Rating, comment: str | None
) -> FeedbackOut:
    body = FeedbackRequest(seq=seq, rating=rating, comment=comment or None).model_dump(exclude_none=True)
    return _parse(FeedbackOut, _call(api, "POST", f"/sessions/{session_id}/feedback", json=body))


def session_feedback(api: ChatApi, session_id: str) -> list[FeedbackOut]:
    return TypeAdapter(list[FeedbackOut]).validate_python(
        _call(api, "GET", f"/sessions/{session_id}/feedback")
    )


def approvals(api: ChatApi) -> Approvals:
    return _parse(Approvals, _call(api, "GET", "/feedback/approval"))


def share(api: ChatApi, session_id: str) -> ShareOut:
    return _parse(ShareOut, _call(api, "POST", f"/sessions/{session_id}/share", json={}))


def my_links(api: ChatApi) -> list[ShareOut]:
    return TypeAdapter(list[ShareOut]).validate_python(_call(api, "GET", "/shares"))


def revoke_link(api: ChatApi, share_id: str) -> ShareOut:
    return _parse(ShareOut, _call(api, "DELETE", f"/shared/{quote(share_id, safe='')}"))


def open_link(api: ChatApi, share_id: str) -> SharedConversation:
    return _parse(SharedConversation, _call(api, "GET", f"/shared/{quote(share_id, safe='')}"))


def search(api: ChatApi, query: str, limit: int = 20) -> SearchResults:
    return _parse(SearchResults, _call(api, "GET", "/sessions/search", params={"q": query, "limit": limit}))


def marks(api: ChatApi) -> list[SessionMark]:
    return TypeAdapter(list[SessionMark]).validate_python(_call(api, "GET", "/sessions/marks"))


def mark(api: ChatApi, session_id: str, *, pinned: bool, folder: str | None) -> SessionMark:
    body = MarkRequest(pinned=pinned, folder=folder).model_dump(exclude_none=True)
    return _parse(SessionMark, _call(api, "PUT", f"/sessions/{session_id}/mark", json=body))
