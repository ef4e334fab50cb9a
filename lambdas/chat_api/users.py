"""User accounts of the local stack, for administrators only: list, add, reset a password, remove,
and delete a removed user's data (issue 21, "Leaving").

The Users page of the web app calls these; the role is checked here, from the verified token,
whatever the page shows. With Cognito the user pool holds the accounts (and its `admin` group
gives the role), so these routes answer that the accounts are managed there; deleting the data
of someone removed from the pool (DELETE /users/{name}/data) works on every deployment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from chatbot.api.erasure import ErasureReport, UserRemoved
from chatbot.api.quotas import AuditEntry
from chatbot.api.records import utc_now
from chatbot.api.users import UserChange, UserInfo, UserSaved, UsersError, UsersFile
from chatbot.chat.erasure import ErasureIncompleteError, UserDataErasure, eraser_for
from chatbot.chat.store import HistoryStore
from chatbot.errors import ChatbotError
from lambdas.chat_api.auth import AccountCheckUnavailableError, AuthError, Caller
from lambdas.chat_api.dependencies import Admin, Service

if TYPE_CHECKING:
    from chatbot.chat.service import ChatService

router = APIRouter()


class UsersManagedElsewhereError(ChatbotError):
    code = "users_managed_elsewhere"
    http_status = 404


class AccountStatusUnknownError(ChatbotError):
    """Whether the account stands could not be checked: no data is deleted on a guess."""

    code = "account_check_unavailable"
    http_status = 503


class UserStillHasAnAccountError(ChatbotError):
    """Data is deleted with or after the account, never under a user who can still sign in."""

    code = "user_still_has_an_account"
    http_status = 409


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


@router.delete(
    "/users/{name}",
    status_code=204,
    response_model=None,
    responses={200: {"model": UserRemoved, "description": "Removed, with their data (delete_data=true)"}},
)
async def remove_user(
    name: str, admin: Admin, users: Users, service: Service, request: Request, delete_data: bool = False
) -> Response:
    """Removes the account and revokes its API keys (its sign-in tokens are refused from now on:
    the account is gone). With `delete_data=true` it also deletes the user's data and answers
    what was deleted (200); their arena votes stay, anonymised. The account goes first, so the
    user cannot add data while it is deleted; were the deletion interrupted, DELETE
    /users/{name}/data finishes it."""
    user = name.strip().lower()
    await _refusing_bad_users(lambda: users.remove(name))
    revoked = await run_in_threadpool(revoke_api_keys, service.store, user)
    await run_in_threadpool(_audit, request, admin.user_id, "remove_user", user, {"keys_revoked": revoked})
    if not delete_data:
        return Response(status_code=204)
    report = await run_in_threadpool(_erase, request, service, admin.user_id, user)
    removed = UserRemoved(user=user, account_removed=True, keys_revoked=revoked, data=report)
    return JSONResponse(removed.model_dump(mode="json"))


@router.delete("/users/{name}/data")
async def delete_user_data(name: str, admin: Admin, service: Service, request: Request) -> UserRemoved:
    """Deletes the data of a user whose account is gone (removed here, or from the Cognito user
    pool): conversations, documents, keys and usage details; their arena votes stay, anonymised.
    Safe to repeat: a second call deletes nothing and says so."""
    user = name.strip()
    if getattr(request.app.state, "users_file", None) is not None:
        user = user.lower()  # local names are lower-case (chatbot/api/users.py)
    if await run_in_threadpool(_can_sign_in, request, user):
        raise UserStillHasAnAccountError(
            f"{user!r} still has an account. Remove the account first (here: DELETE "
            "/users/{name}?delete_data=true does both; with Cognito, delete or disable the user in "
            "the user pool, and try again a minute later, once the API has noticed)."
        )
    report = await run_in_threadpool(_erase, request, service, admin.user_id, user)
    return UserRemoved(user=user, account_removed=False, data=report)


def _can_sign_in(request: Request, user: str) -> bool:
    """Whether the account stands, asked where every request's account is checked: the users
    file, or the Cognito user pool (whose answer the API keeps for a minute)."""
    try:
        request.app.state.accounts.check(Caller(user_id=user))
    except AccountCheckUnavailableError:
        raise AccountStatusUnknownError(
            f"Nothing was deleted: the user pool did not say whether {user!r} can still sign in. "
            "Try again in a minute."
        ) from None
    except AuthError:
        return False
    return True


def _erase(request: Request, service: ChatService, actor: str, user: str) -> ErasureReport:
    """Deletes everything of the user's and records it, with the counts, in the audit log."""
    retrieval = getattr(request.app.state, "retrieval", None)  # None where documents are off
    erasure = UserDataErasure(
        eraser_for(service.store),
        documents=retrieval.store if retrieval is not None else None,
        attachments=service.turns.attachments,
    )
    try:
        report = erasure.erase(user)
    except ErasureIncompleteError as exc:  # what did go is recorded all the same
        _audit(
            request,
            actor,
            "delete_user_data",
            user,
            {**exc.report.model_dump(), "incomplete": str(exc.cause)},
        )
        raise
    _audit(request, actor, "delete_user_data", user, report.model_dump())
    return report


def _audit(request: Request, actor: str, action: str, target: str, after: dict) -> None:
    """Recorded in the audit log beside the quotas (passwords never are)."""
    record_audit(
        request, AuditEntry(at=utc_now(), actor=actor, action=action, target=f"user:{target}", after=after)
    )


def record_audit(request: Request, entry: AuditEntry) -> None:
    """One administrator action into the audit log kept beside the quotas."""
    quotas = getattr(request.app.state, "quotas", None)
    if quotas is not None:
        quotas.record(entry)


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
