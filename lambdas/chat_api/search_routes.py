"""History routes (issue 23): full-text search over the caller's conversations, and their pins
and folders. Included before the app's /sessions/{session_id} routes, which would take
"search" and "marks" for session ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from chatbot.api.everyday import MAX_QUERY_CHARS, MarkRequest, SearchResults, SessionMark
from chatbot.chat.search import MAX_HITS, clean_mark, clean_query
from lambdas.chat_api.dependencies import Service, User

router = APIRouter(tags=["history"])


@router.get("/sessions/search")
async def search(
    user: User,
    service: Service,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)],
    limit: Annotated[int, Query(ge=1, le=MAX_HITS)] = 20,
) -> SearchResults:
    """Conversations whose title or one message holds every word of `q`, newest first."""
    query = clean_query(q)
    return await run_in_threadpool(service.store.search_sessions, user, query, limit=limit)


@router.get("/sessions/marks")
async def marks(user: User, service: Service) -> list[SessionMark]:
    """The caller's pinned and filed conversations, pinned first."""
    return await run_in_threadpool(service.store.list_marks, user)


@router.put("/sessions/{session_id}/mark")
async def mark(session_id: str, body: MarkRequest, user: User, service: Service) -> SessionMark:
    """Pin or file a conversation; neither pinned nor in a folder clears its mark."""
    pinned, folder = clean_mark(body)
    return await run_in_threadpool(service.store.mark_session, user, session_id, pinned, folder)
