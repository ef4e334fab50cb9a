"""The "remember me" cookie, set and deleted by the web server itself: HttpOnly (no script on the
page can read it), SameSite=Lax, and Secure whenever the browser came over HTTPS.

Streamlit's pages cannot answer an HTTP request with a header of their own, and a cookie that
JavaScript writes (as streamlit-authenticator's component did) can never be HttpOnly. So the
page script hands the cookie to the server under a one-time ticket (`CookieDesk.hand_over`), and
draws an image whose address is that ticket; the browser fetches it from the same server, which
answers with the Set-Cookie header (`routes`). The ticket is unguessable, works once, only for
a few minutes, and in the process that issued it (which the ticket's request reaches, as every
request of a Streamlit session does: the app runs as one server process per task).

Reading needs nothing new: the browser sends the cookie with the websocket's request, and the
app reads it from st.context.cookies.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

#: Where the tickets are redeemed (below Streamlit's own routes' prefix-free space).
PATH = "/_chatbot/cookie/{ticket}"
#: A ticket not redeemed within this long is dropped: the page that drew it is long gone.
TICKET_TTL_S = 300


@dataclass(frozen=True)
class CookieOrder:
    """One Set-Cookie to send: `value` None deletes the cookie."""

    name: str
    value: str | None
    #: Epoch seconds; ignored when deleting.
    expires_at: float = 0.0


class CookieDesk:
    """The tickets handed over by page scripts, waiting for the browser's request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[CookieOrder, float]] = {}
        self._redeemed: dict[str, float] = {}

    def hand_over(self, order: CookieOrder) -> str:
        """A ticket for `order`: the address the browser must fetch is `url_of(ticket)`."""
        ticket = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._forget_old(now)
            self._waiting[ticket] = (order, now)
        return ticket

    def redeem(self, ticket: str) -> CookieOrder | None:
        """The order behind `ticket`, once; None for an unknown, used or stale ticket."""
        now = time.monotonic()
        with self._lock:
            self._forget_old(now)
            held = self._waiting.pop(ticket, None)
            if held is None:
                return None
            self._redeemed[ticket] = now
            return held[0]

    def waiting(self, ticket: str) -> bool:
        """Whether `ticket` can still be redeemed (issued, unused, not stale)."""
        with self._lock:
            self._forget_old(time.monotonic())
            return ticket in self._waiting

    def redeemed(self, ticket: str) -> bool:
        """Whether the browser has fetched `ticket` (so it holds the cookie, or has dropped it)."""
        with self._lock:
            return ticket in self._redeemed

    def _forget_old(self, now: float) -> None:
        for book in (self._waiting, self._redeemed):
            for ticket in [t for t, held in book.items() if now - _at(held) > TICKET_TTL_S]:
                del book[ticket]


def _at(held: tuple[CookieOrder, float] | float) -> float:
    return held[1] if isinstance(held, tuple) else held


#: The one desk of this server process: page scripts and the route share it.
DESK = CookieDesk()


def url_of(ticket: str) -> str:
    """The ticket's address on this server (the app is served at its root: no base URL path)."""
    return PATH.format(ticket=ticket)


def came_over_https(request: Request) -> bool:
    """HTTPS to this server, or to the load balancer or CDN in front of it (which says so in
    X-Forwarded-Proto: the ALB talks plain HTTP to the task)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def cookie_response(order: CookieOrder, *, secure: bool, now: float | None = None) -> Response:
    """204 with the order's Set-Cookie: HttpOnly, SameSite=Lax, Path=/, Secure when `secure`."""
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    if order.value is None:
        response.delete_cookie(order.name, path="/", secure=secure, httponly=True, samesite="lax")
        return response
    left = max(0, int(order.expires_at - (time.time() if now is None else now)))
    response.set_cookie(
        order.name,
        order.value,
        max_age=left,
        expires=left,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    return response


def routes(desk: CookieDesk = DESK) -> list[Route]:
    async def redeem(request: Request) -> Response:
        order = desk.redeem(request.path_params["ticket"])
        if order is None:
            return Response("Unknown or used ticket.", status_code=404, headers={"Cache-Control": "no-store"})
        return cookie_response(order, secure=came_over_https(request))

    return [Route(PATH, redeem, methods=["GET"])]
