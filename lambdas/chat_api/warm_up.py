"""Before a stream opens: is every model the request names up? A scale-to-zero model with no
copy running answers 503 `model_warming_up` with Retry-After here, so nothing is saved and no
stream starts (a stream has already said 200). Its refusal is what starts a copy
(chatbot/models/endpoints.py: Endpoint.ensure_ready).

Used as a route dependency after the caller's own (so that no one signed out can start a model),
with the caller's model check (so that no one starts, or learns the state of, a model their roles
may not use: the pipeline refuses those with a 403 later):

    @app.post("/chat", dependencies=[Depends(models_ready(current_user, user_access))])
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from chatbot.chat.service import ChatService
from chatbot.errors import ChatbotError, ModelWarmingUpError
from chatbot.policy.model_access import ModelAccessAdmission
from lambdas.chat_api.dependencies import current_service


def named_models(body: Any) -> list[str]:
    """The models a chat, compare or /v1 body names (`model`, `models`): the rest is the route's
    to validate."""
    if not isinstance(body, dict):
        return []
    names = [body.get("model"), *(body.get("models") or [] if isinstance(body.get("models"), list) else [])]
    return list(dict.fromkeys(name for name in names if isinstance(name, str)))


def check_ready(service: ChatService, names: list[str], access: ModelAccessAdmission) -> None:
    """Ask every named model the caller may use, so that each cold one starts now (not one per
    retry); then raise the first ModelWarmingUpError, if any."""
    cold: list[ModelWarmingUpError] = []
    for name in names:
        if not access.allows(name):
            continue  # not theirs to start: the pipeline answers 403 model_not_allowed
        try:
            endpoint = service.endpoint(name)
        except ChatbotError:
            continue  # an unknown or non-chat model: the route says so, in its own words
        try:
            endpoint.ensure_ready()
        except ModelWarmingUpError as exc:
            cold.append(exc)
    if cold:
        raise cold[0]


def models_ready(
    caller: Callable[..., Any], access: Callable[..., ModelAccessAdmission]
) -> Callable[..., Awaitable[None]]:
    """A dependency that runs `caller` (the route's own authentication, run once per request)
    first, then asks each named model the caller's `access` allows whether it is up."""

    # Defaults, not Annotated: this module's annotations are strings, which FastAPI resolves in
    # the module's globals, where `caller` is not.
    async def ready(
        request: Request,
        _caller: Any = Depends(caller),  # noqa: B008 (FastAPI's way)
        service: ChatService = Depends(current_service),  # noqa: B008
        check: ModelAccessAdmission = Depends(access),  # noqa: B008
    ) -> None:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return  # the route answers a body that is not JSON
        await run_in_threadpool(check_ready, service, named_models(body), check)  # ModelWarmingUpError: 503

    return ready
