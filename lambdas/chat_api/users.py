"""User accounts of the local stack, for administrators only: list, add, reset a password, remove.

The Users page of the web app calls these; the role is checked here, from the verified token,
whatever the page shows. With Cognito the user pool holds the accounts (and its `admin` group
gives the role), so these routes answer that the accounts are managed there.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from chatbot.api.quotas import AuditEntry
from chatbot.api.records import utc_now
from chatbot.api.users import UserChange, UserInfo, UserSaved, UsersError, UsersFile
from chatbot.chat.store import HistoryStore
from chatbot.errors import ChatbotError
from lambdas.chat_api.dependencies import Admin, Service

router = APIRouter()


class UsersManagedElsewhereError(ChatbotError):
    code = "users_managed_elsewhere"
    http_status = 404


class InvalidUserError(ChatbotError):
    """A user name or password that cannot be used, or a removal that would leave no administrator."""

    code = "invalid_user"
    http_status = 422


def users_file(request: Request) -> UsersFile:
    path = getattr(request.app.state, "users_file", None)
    if path is None:
        raise UsersManagedElsewhereError(
            "Accounts are managed in the Cognito user pool on this deployment (its 'admin' group "
            "makes administrators)."
        )
    return UsersFile(path)


Users = Annotated[UsersFile, Depends(users_file)]


@router.get("/users")
async def list_users(admin: Admin, users: Users) -> list[UserInfo]:
    return await run_in_threadpool(users.listing)


@router.put("/users/{name}")
async def save_user(name: str, body: UserChange, admin: Admin, users: Users, request: Request) -> UserSaved:
    def save() -> UserSaved:
        created = users.add(name, body.password, admin=body.admin)
        saved = name.strip().lower()
        return UserSaved(user=UserInfo(name=saved, admin=users.is_admin(saved)), created=created)

    saved = await _refusing_bad_users(save)
    action = "add_user" if saved.created else "reset_password"
    await run_in_threadpool(
        _audit, request, admin.user_id, action, saved.user.name, {"admin": saved.user.admin}
    )
    return saved


@router.delete("/users/{name}", status_code=204)
async def remove_user(name: str, admin: Admin, users: Users, service: Service, request: Request) -> Response:
    """Removes the account and revokes its API keys (its sign-in tokens are refused from now on:
    the account is gone)."""
    await _refusing_bad_users(lambda: users.remove(name))
    revoked = await run_in_threadpool(revoke_api_keys, service.store, name.strip().lower())
    await run_in_threadpool(
        _audit, request, admin.user_id, "remove_user", name.strip().lower(), {"keys_revoked": revoked}
    )
    return Response(status_code=204)


def _audit(request: Request, actor: str, action: str, target: str, after: dict) -> None:
    """Recorded in the audit log beside the quotas (passwords never are)."""
    quotas = getattr(request.app.state, "quotas", None)
    if quotas is not None:
        quotas.record(
            AuditEntry(at=utc_now(), actor=actor, action=action, target=f"user:{target}", after=after)
        )


def revoke_api_keys(store: HistoryStore, user_id: str) -> int:
    """Revokes every active API key of the user; how many were."""
    active = [key for key in store.list_api_keys(user_id) if key.active]
    for key in active:
        store.revoke_api_key(user_id, key.id, utc_now())
    return len(active)


async def _refusing_bad_users(change):
    try:
        return await run_in_threadpool(change)
    except UsersError as exc:
        raise InvalidUserError(str(exc)) from None
