"""Quota routes: everyone's own usage and limits; administrators' organisation view, limits and
audit log. The role is checked here, from the verified token, whatever a page shows."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from chatbot.api.quotas import (
    AuditEntry,
    KeyUsage,
    Limits,
    LimitsOverview,
    OrganisationUsage,
    Period,
    UsageReport,
    UsageSort,
)
from chatbot.api.users import UsersError, UsersFile, check_name
from chatbot.chat.costs import Hosting
from chatbot.chat.pipeline import Admission
from chatbot.errors import ChatbotError, InvalidRequestError
from chatbot.policy.limits import ROLE_PATTERN
from chatbot.policy.quotas import QuotaStore, subject_of_key
from chatbot.policy.usage_reports import (
    audit_csv,
    key_usage,
    organisation_csv,
    organisation_usage,
    usage_report,
)
from lambdas.chat_api.auth import Caller
from lambdas.chat_api.dependencies import Admin, Service, current_caller

router = APIRouter(tags=["Quotas"])

Format = Literal["json", "csv"]


class QuotasUnavailableError(ChatbotError):
    code = "quotas_unavailable"
    http_status = 503


def current_quotas(request: Request) -> QuotaStore:
    quotas = getattr(request.app.state, "quotas", None)
    if quotas is None:
        raise QuotasUnavailableError("Usage and limits are not set up on this deployment.")
    return quotas


Quotas = Annotated[QuotaStore, Depends(current_quotas)]
SignedIn = Annotated[Caller, Depends(current_caller)]


def roles_of(request: Request, caller: Caller) -> set[str]:
    """The caller's roles and groups: the token's (Cognito groups), and locally the users file's."""
    roles = {*caller.roles, *getattr(caller, "groups", ())}
    path = getattr(request.app.state, "users_file", None)
    if path is not None:
        entry = UsersFile(path).load()["credentials"]["usernames"].get(caller.user_id) or {}
        roles |= {role for role in entry.get("roles", []) if isinstance(role, str)}
    return roles


def quota_for(request: Request, user_id: str, key_id: str | None = None) -> Admission | None:
    """The quota admission of one request: every answer it makes reserves on the user's (and
    the key's) limits. None where the deployment keeps no ledger. A key's calls count with its
    owner's roles as the users file gives them (a key carries no token, so no Cognito groups)."""
    quotas = getattr(request.app.state, "quotas", None)
    if quotas is None:
        return None
    from chatbot.policy.quota_admission import QuotaAdmission

    hosting: Hosting = "local" if getattr(request.app.state, "model_server_url", None) else "aws"
    caller = current_caller(request) if key_id is None else Caller(user_id)
    return QuotaAdmission(quotas, roles=roles_of(request, caller), key_id=key_id, hosting=hosting)


def user_quota(request: Request, caller: SignedIn) -> Admission | None:
    return quota_for(request, caller.user_id)


#: The signed-in caller's quota admission, for /chat and /compare.
Quota = Annotated["Admission | None", Depends(user_quota)]


def _now() -> datetime:
    return datetime.now(UTC)


def _csv(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/usage")
async def my_usage(
    request: Request, caller: SignedIn, quotas: Quotas, period: Period = "month"
) -> UsageReport:
    roles = roles_of(request, caller)
    return await run_in_threadpool(usage_report, quotas, caller.user_id, roles, period, _now())


@router.get("/usage/keys")
async def my_key_usage(caller: SignedIn, quotas: Quotas, period: Period = "month") -> list[KeyUsage]:
    """Each of the caller's API keys' usage over the period (the Settings page shows it)."""
    return await run_in_threadpool(key_usage, quotas, caller.user_id, period, _now())


@router.put("/usage/keys/{key_id}/limits")
async def set_key_limits(
    key_id: str, body: Limits, caller: SignedIn, quotas: Quotas, service: Service
) -> Limits:
    """A key's own limits (on top of its owner's): the owner sets them."""
    keys = await run_in_threadpool(service.store.list_api_keys, caller.user_id)
    if key_id not in {key.id for key in keys}:
        raise InvalidRequestError(f"You have no API key {key_id!r}. List your keys to see their ids.")
    await run_in_threadpool(quotas.set_limits, subject_of_key(key_id), body, caller.user_id)
    return body


@router.get("/admin/usage", response_model=None)
async def organisation(
    admin: Admin,
    quotas: Quotas,
    period: Period = "month",
    sort: UsageSort = "cost",
    format: Annotated[Format, Query()] = "json",
) -> OrganisationUsage | Response:
    usage = await run_in_threadpool(organisation_usage, quotas, period, sort, _now())
    return _csv(organisation_csv(usage), f"usage-{usage.first_day}") if format == "csv" else usage


@router.get("/admin/limits")
async def all_limits(admin: Admin, quotas: Quotas) -> LimitsOverview:
    stored = await run_in_threadpool(quotas.stored_limits)
    return LimitsOverview(
        roles=await run_in_threadpool(quotas.role_limits),
        users={
            scope[len("user:") :]: limits for scope, limits in stored.items() if scope.startswith("user:")
        },
    )


@router.put("/admin/limits/{role}")
async def set_role_limits(role: str, body: Limits, admin: Admin, quotas: Quotas) -> Limits:
    """Each member of the role gets these limits (`user` is everyone)."""
    if not re.fullmatch(ROLE_PATTERN, role):
        raise InvalidRequestError(f"{role!r} cannot be a role name: use letters, digits, '.', '_', '-'.")
    await run_in_threadpool(quotas.set_limits, f"role:{role}", body, admin.user_id)
    return body


@router.put("/admin/users/{name}/limits")
async def set_user_limits(name: str, body: Limits, admin: Admin, quotas: Quotas) -> Limits:
    """The user's own values of the fields given (null: unlimited), in place of their roles'."""
    try:
        name = check_name(name)
    except UsersError as exc:
        raise InvalidRequestError(str(exc)) from None
    await run_in_threadpool(quotas.set_limits, f"user:{name}", body, admin.user_id)
    return body


@router.get("/admin/audit", response_model=None)
async def audit(
    admin: Admin,
    quotas: Quotas,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    format: Annotated[Format, Query()] = "json",
) -> list[AuditEntry] | Response:
    """Administrators' actions, newest first: who, when, what changed."""
    entries = await run_in_threadpool(quotas.audit_log, limit)
    return _csv(audit_csv(entries), "audit-log") if format == "csv" else entries
