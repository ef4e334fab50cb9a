"""The arena's scheduled refit (infra/components/arena_refit.py): EventBridge Scheduler invokes the function
with the refit event, and the Lambda Web Adapter passes it here (its pass-through path, /events).

It needs no user: it only refits the stored leaderboard, one refit at a time under the store's
lease, and not again within MIN_REFIT_INTERVAL_S of the last, so calling it often costs nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from chatbot.api.arena import RefitEvent, RefitResult
from lambdas.chat_api.dependencies import Service

router = APIRouter()

#: A scheduled refit skips a stored fit younger than this (votes refit as they arrive).
MIN_REFIT_INTERVAL_S = 30.0


@router.post("/events")
async def scheduled_event(body: RefitEvent, service: Service) -> RefitResult:
    def refit() -> RefitResult:
        stored = service.votes.board.stored()
        if (
            stored is not None
            and (datetime.now(UTC) - stored.fitted_at).total_seconds() < MIN_REFIT_INTERVAL_S
        ):
            return RefitResult(refitted=False, version=stored.version)
        fitted = service.votes.refit()
        if fitted is None:
            stored = service.votes.board.stored()
            return RefitResult(refitted=False, version=stored.version if stored else None)
        return RefitResult(refitted=True, version=fitted.version)

    return await run_in_threadpool(refit)
