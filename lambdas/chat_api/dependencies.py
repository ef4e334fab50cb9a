"""FastAPI dependencies: who is calling, and the services the routes use."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from chatbot.api.users import UsersFile
from chatbot.errors import ChatbotError
from chatbot.models.endpoints import model_server_restarting
from lambdas.chat_api.auth import ADMINS_ONLY, Caller, ForbiddenError, user_token

if TYPE_CHECKING:  # built on first use (lambdas/chat_api/wiring.py): a cold start imports neither
    from chatbot.chat.service import ChatService
    from chatbot.models.catalog import ModelCatalog
    from chatbot.retrieval.service import Retrieval


class DocumentsUnavailableError(ChatbotError):
    code = "documents_unavailable"
    http_status = 503


def current_caller(request: Request) -> Caller:
    """The caller (user id and roles), from a verified token only: never from the request body;
    and only while their account stands (not removed, disabled, or reset since the token)."""
    caller = request.app.state.verifier.caller(user_token(request.headers))
    request.app.state.accounts.check(caller)
    return caller


def current_user(caller: Annotated[Caller, Depends(current_caller)]) -> str:
    return caller.user_id


def current_admin(request: Request, caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    """The caller, who must be an administrator (403 otherwise). Locally the users file must still
    say so: a token outlives its user's removal (it is valid until it expires), and a removed
    administrator manages nothing. (Cognito's ID tokens carry the group, and expire within the hour.)"""
    caller.require_admin()
    users_file = getattr(request.app.state, "users_file", None)
    if users_file is not None and not UsersFile(users_file).is_admin(caller.user_id):
        raise ForbiddenError(ADMINS_ONLY)
    return caller


def current_service(request: Request) -> ChatService:
    return request.app.state.service


def current_catalog(request: Request) -> ModelCatalog:
    """The models, without the chat service (GET /models on a cold start needs no more)."""
    return request.app.state.catalog


def current_retrieval(request: Request) -> Retrieval:
    retrieval = getattr(request.app.state, "retrieval", None)
    if retrieval is None:
        raise DocumentsUnavailableError("Document search is not set up on this deployment.")
    return retrieval


def model_server_answers(request: Request) -> None:
    """Locally, while the launcher restarts a model server that exited, nothing listens at its
    address: a chat then gets a 503 that says so, before anything is saved (in AWS there is no
    such address to ask, and this checks nothing)."""
    url = getattr(request.app.state, "model_server_url", None)
    if not url:
        return
    try:
        urllib.request.urlopen(f"{url}/ping", timeout=2).close()
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            raise model_server_restarting(url) from None
    except OSError:
        pass  # something answers: a slow or odd answer is the model call's to report


User = Annotated[str, Depends(current_user)]
Admin = Annotated[Caller, Depends(current_admin)]
Service = Annotated["ChatService", Depends(current_service)]
Catalog = Annotated["ModelCatalog", Depends(current_catalog)]
RetrievalDep = Annotated["Retrieval", Depends(current_retrieval)]
