"""Share-link routes (issue 23): the owner makes, lists and revokes links to a snapshot of one
conversation; any signed-in user opens one; a public link opens without signing in only where
an administrator allowed them (CHATBOT_PUBLIC_SHARE_LINKS)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from chatbot.api.everyday import SharedConversation, ShareOut, ShareRequest
from chatbot.api.records import utc_now
from chatbot.chat.shares import open_share, revoke_share, share_session
from lambdas.chat_api.dependencies import Service, User

router = APIRouter(tags=["share links"])


def public_links_allowed(request: Request) -> bool:
    """The deployment's setting, read once per app (the routes' own, so the app's start-up stays as it was)."""
    allowed = getattr(request.app.state, "public_share_links", None)
    if allowed is None:
        from lambdas.chat_api.settings import ChatApiSettings

        allowed = request.app.state.public_share_links = ChatApiSettings.from_env().public_share_links
    return allowed


@router.post("/sessions/{session_id}/share", status_code=201)
async def share(
    session_id: str, request: Request, user: User, service: Service, body: ShareRequest | None = None
) -> ShareOut:
    public = body.public if body else False
    made = await run_in_threadpool(
        lambda: share_session(
            service.store,
            service.store,
            user,
            session_id,
            public=public,
            public_allowed=public_links_allowed(request),
        )
    )
    return made.as_listed()


@router.get("/shares")
async def my_links(user: User, service: Service) -> list[ShareOut]:
    """The caller's links, revoked ones included, newest first."""
    return [link.as_listed() for link in await run_in_threadpool(service.store.list_shares, user)]


@router.delete("/shared/{share_id}")
async def revoke(share_id: str, user: User, service: Service) -> ShareOut:
    """The owner revokes a link: from then on it is a 404 for everyone."""
    revoked = await run_in_threadpool(revoke_share, service.store, user, share_id, utc_now())
    return revoked.as_listed()


@router.get("/shared/{share_id}")
async def open_link(share_id: str, request: Request, user: User, service: Service) -> SharedConversation:
    opened = await run_in_threadpool(
        open_share, service.store, share_id, signed_in=True, public_allowed=public_links_allowed(request)
    )
    return opened.as_shown()


@router.get("/public/shared/{share_id}")
async def open_public_link(share_id: str, request: Request, service: Service) -> SharedConversation:
    """No sign-in: only a link made public, where the deployment allows public links."""
    opened = await run_in_threadpool(
        open_share, service.store, share_id, signed_in=False, public_allowed=public_links_allowed(request)
    )
    return opened.as_shown()
