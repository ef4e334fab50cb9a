"""Models and presets at runtime (issue 21): everyone's presets (GET /presets); administrators'
switches over the deployed models (GET /admin/models, PUT /admin/models/{name}) and presets
(GET /admin/presets, GET/PUT/DELETE /admin/presets/{name}). The role is checked here, from the
verified token, whatever a page shows; every change is recorded in the audit log.

The check that a caller may use a model is not a route's: `access_for` hands the generation
pipeline an admission that every answer passes (chatbot.policy.model_access)."""

from __future__ import annotations

import re
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from chatbot.api.model_access import PRESET_NAME_PATTERN, ModelEntry, ModelSettings, Preset, PresetSettings
from chatbot.api.requests import ChatRequest, CompareRequest
from chatbot.errors import InvalidRequestError
from chatbot.policy.model_access import ModelAccess, ModelAccessAdmission, PresetNotFoundError
from lambdas.chat_api.auth import Caller
from lambdas.chat_api.dependencies import Admin, current_caller
from lambdas.chat_api.quota_routes import roles_of

router = APIRouter(tags=["Models and presets"])


def current_access(request: Request) -> ModelAccess:
    return request.app.state.model_access


Access = Annotated[ModelAccess, Depends(current_access)]
SignedIn = Annotated[Caller, Depends(current_caller)]


def caller_roles(request: Request, caller: SignedIn) -> frozenset[str]:
    """The signed-in caller's roles and groups (the token's, and locally the users file's)."""
    return frozenset(roles_of(request, caller))


Roles = Annotated[frozenset[str], Depends(caller_roles)]


def access_for(request: Request, user_id: str, key_id: str | None = None) -> ModelAccessAdmission:
    """The model check of one request's answers. A key's calls count with its owner's roles as
    the users file gives them (a key carries no token, so no Cognito groups)."""
    caller = current_caller(request) if key_id is None else Caller(user_id)
    return ModelAccessAdmission(request.app.state.model_access, roles_of(request, caller))


def user_access(access: Access, roles: Roles) -> ModelAccessAdmission:
    return ModelAccessAdmission(access, roles)


#: The signed-in caller's model check, for /chat and /compare.
ModelCheck = Annotated[ModelAccessAdmission, Depends(user_access)]


def listed_models(request: Request, roles: frozenset[str]) -> tuple[list[str], str | None]:
    """GET /models: the chat models these roles may use, and their default. While the database
    cannot be reached (locally stopped, or a paused Aurora cluster still resuming) the list is
    the catalog's: a list is what a page offers, not what it may call; every call is checked by
    the pipeline's admission, which reads the settings (the call needs the database anyway)."""
    from chatbot.postgres import DatabaseUnavailableError  # psycopg2: not on a cold start's path

    try:
        access: ModelAccess = request.app.state.model_access
        return access.usable(roles), access.default_for(roles)
    except DatabaseUnavailableError:
        chat = [spec.name for spec in request.app.state.catalog if spec.task == "chat"]
        return chat, next(iter(chat), None)


AskedOf = TypeVar("AskedOf", ChatRequest, CompareRequest)


def with_preset(body: AskedOf, access: ModelAccess, roles: frozenset[str]) -> AskedOf:
    """The request with its preset's system prompt (unless it sends its own) and parameters
    (under its own): 404 for a preset not published to the caller. The model stays the
    request's: the model check admits it like any other."""
    if body.preset is None:
        return body
    preset = access.preset_for(body.preset, roles)
    return body.model_copy(
        update={
            "system_prompt": body.system_prompt or preset.system_prompt or None,
            "parameters": {**preset.parameters, **body.parameters},
        }
    )


@router.get("/presets")
async def my_presets(access: Access, roles: Roles) -> list[Preset]:
    """The presets published to the caller's roles, on models they may use."""
    return await run_in_threadpool(access.presets_for, roles)


@router.get("/admin/models")
async def deployed_models(admin: Admin, access: Access) -> list[ModelEntry]:
    """Every deployed chat model with its settings (the catalog says what is deployed)."""
    return await run_in_threadpool(access.entries)


@router.put("/admin/models/{name}")
async def set_model(name: str, body: ModelSettings, admin: Admin, access: Access) -> ModelEntry:
    """Switch a deployed model on or off, publish it to roles (none: everyone), make it the default."""
    await run_in_threadpool(access.set_model, name, body, admin.user_id)
    entries = await run_in_threadpool(access.entries)
    return next(entry for entry in entries if entry.name == name)


@router.get("/admin/presets")
async def all_presets(admin: Admin, access: Access) -> list[Preset]:
    return await run_in_threadpool(access.presets)


@router.get("/admin/presets/{name}")
async def one_preset(name: str, admin: Admin, access: Access) -> Preset:
    presets = {preset.name: preset for preset in await run_in_threadpool(access.presets)}
    if name not in presets:
        raise PresetNotFoundError(name, presets)
    return presets[name]


@router.put("/admin/presets/{name}")
async def set_preset(name: str, body: PresetSettings, admin: Admin, access: Access) -> Preset:
    if not re.fullmatch(PRESET_NAME_PATTERN, name):  # fullmatch: `$` alone lets a final newline by
        raise InvalidRequestError(
            f"{name[:80]!r} cannot be a preset's name: up to 64 letters, digits, spaces, '.', '_', '-'."
        )
    return await run_in_threadpool(access.set_preset, name, body, admin.user_id)


@router.delete("/admin/presets/{name}", status_code=204)
async def delete_preset(name: str, admin: Admin, access: Access) -> Response:
    await run_in_threadpool(access.delete_preset, name, admin.user_id)
    return Response(status_code=204)
