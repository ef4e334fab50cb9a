"""FastAPI dependencies: who is calling, and the services the routes use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from chatbot.chat.service import ChatService
from chatbot.errors import ChatbotError
from chatbot.retrieval.service import Retrieval
from lambdas.chat_api.auth import user_token


class DocumentsUnavailableError(ChatbotError):
    code = "documents_unavailable"
    http_status = 503


def current_user(request: Request) -> str:
    """The user id, from a verified token only: never from the request body."""
    return request.app.state.verifier.user_id(user_token(request.headers))


def current_service(request: Request) -> ChatService:
    return request.app.state.service


def current_retrieval(request: Request) -> Retrieval:
    retrieval = getattr(request.app.state, "retrieval", None)
    if retrieval is None:
        raise DocumentsUnavailableError("Document search is not set up on this deployment.")
    return retrieval


User = Annotated[str, Depends(current_user)]
Service = Annotated[ChatService, Depends(current_service)]
RetrievalDep = Annotated[Retrieval, Depends(current_retrieval)]
