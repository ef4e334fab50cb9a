"""The everyday chat features' routes (issue 23), gathered into one router so the app includes
them with one line: feedback, share links, history search."""

from __future__ import annotations

from fastapi import APIRouter

from lambdas.chat_api import feedback_routes, search_routes, share_routes

router = APIRouter()
router.include_router(feedback_routes.router)
router.include_router(share_routes.router)
router.include_router(search_routes.router)
