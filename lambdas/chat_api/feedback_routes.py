"""Feedback routes (issue 23): a thumb on an answer of the caller's own session, the thumbs
already given there, and every model's approval rate for the leaderboard."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from chatbot.api.everyday import Approvals, FeedbackOut, FeedbackRequest
from chatbot.chat.feedback import approvals, give_feedback
from lambdas.chat_api.dependencies import Service, User

router = APIRouter(tags=["feedback"])


@router.post("/sessions/{session_id}/feedback", status_code=201)
async def add_feedback(session_id: str, body: FeedbackRequest, user: User, service: Service) -> FeedbackOut:
    """409 for a second thumb on the same answer; 404 for an answer that is not there."""
    feedback = await run_in_threadpool(give_feedback, service.store, service.store, user, session_id, body)
    return feedback.as_shown()


@router.get("/sessions/{session_id}/feedback")
async def session_feedback(session_id: str, user: User, service: Service) -> list[FeedbackOut]:
    def read() -> list[FeedbackOut]:
        service.store.get_session(user, session_id)  # 404 for another user's session
        return [feedback.as_shown() for feedback in service.store.session_feedback(user, session_id)]

    return await run_in_threadpool(read)


@router.get("/feedback/approval")
async def approval(user: User, service: Service) -> Approvals:
    """Each model's share of thumbs up on answers generated here, with its 95% Wilson interval."""
    return approvals(await run_in_threadpool(service.store.feedback_counts))
