"""Signing in with Cognito (`st.login`): the two things Streamlit 1.67 does not do for it.

- Log out. Streamlit's /auth/logout clears its own cookies, then sends the browser to the
  provider's end_session_endpoint with `post_logout_redirect_uri` only. Cognito's /logout needs
  `client_id` and `logout_uri` (one of the app client's sign-out URLs) and otherwise shows an
  error page (streamlit#14601). `logout` wraps Streamlit's route and sends Cognito's parameters,
  with the app's root as `logout_uri` (infra/components/cognito.py registers it); it also revokes the
  refresh token, which Cognito's /logout leaves valid.
- Stay signed in. Cognito's ID token lives an hour, and Streamlit neither refreshes it nor keeps
  the refresh token. `callback` wraps Streamlit's /oauth2callback and keeps the refresh token in
  a cookie of its own (encrypted with the auth cookie secret; HttpOnly, SameSite=Lax, Secure over
  HTTPS); `renewed_id_token` trades it at Cognito's token endpoint for a fresh ID token when the
  page runs with one close to expiry, that is while the user is active.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streamlit_app.cookies import came_over_https

#: The cookie that holds the refresh token (encrypted).
REFRESH_COOKIE = "chatbot_refresh"
#: Cognito's default refresh-token validity; the cookie lasts no longer than the token.
REFRESH_COOKIE_MAX_AGE_S = 30 * 86400
TIMEOUT_S = 10


def auth_settings() -> dict[str, Any]:
    """secrets.toml's [auth] section (streamlit_app.serve writes it from the environment)."""
    from streamlit.auth_util import get_secrets_auth_section

    section = get_secrets_auth_section()
    return section.to_dict() if section else {}


def app_root(redirect_uri: str) -> str:
    """`https://host/` of `https://host/oauth2callback`: where Cognito sends the browser back."""
    parts = urlsplit(redirect_uri)
    return f"{parts.scheme}://{parts.netloc}/"


def cognito_logout_location(end_session_endpoint: str, client_id: str, logout_uri: str) -> str:
    """Cognito's /logout with the parameters it documents: client_id and logout_uri."""
    return f"{end_session_endpoint}?{urlencode({'client_id': client_id, 'logout_uri': logout_uri})}"


def _fernet(cookie_secret: str) -> Fernet:
    digest = hashlib.sha256(b"chatbot refresh token|" + cookie_secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(refresh_token: str, cookie_secret: str) -> str:
    return _fernet(cookie_secret).encrypt(refresh_token.encode()).decode()


def unseal(sealed: str | None, cookie_secret: str | None) -> str | None:
    if not sealed or not cookie_secret:
        return None
    try:
        return _fernet(cookie_secret).decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def _metadata(settings: dict[str, Any]) -> dict[str, Any]:
    response = httpx.get(str(settings["server_metadata_url"]), timeout=TIMEOUT_S)
    response.raise_for_status()
    return response.json()


def renewed_id_token(sealed_refresh_token: str | None, settings: dict[str, Any] | None = None) -> str | None:
    """A fresh ID token for the refresh token in the cookie; None when there is none, or the
    provider refuses it (expired, revoked, or the user was disabled)."""
    settings = auth_settings() if settings is None else settings
    refresh_token = unseal(sealed_refresh_token, settings.get("cookie_secret"))
    if refresh_token is None or not settings.get("server_metadata_url"):
        return None
    try:
        response = httpx.post(
            _metadata(settings)["token_endpoint"],
            data={
                "grant_type": "refresh_token",
                "client_id": settings["client_id"],
                "refresh_token": refresh_token,
            },
            auth=(str(settings["client_id"]), str(settings.get("client_secret", ""))),
            timeout=TIMEOUT_S,
        )
    except (httpx.HTTPError, KeyError):
        return None
    return response.json().get("id_token") if response.status_code == 200 else None


def _revoke(refresh_token: str, settings: dict[str, Any]) -> None:
    try:
        endpoint = _metadata(settings).get("revocation_endpoint")
        if endpoint:
            httpx.post(
                endpoint,
                data={"token": refresh_token, "client_id": settings["client_id"]},
                auth=(str(settings["client_id"]), str(settings.get("client_secret", ""))),
                timeout=TIMEOUT_S,
            )
    except (httpx.HTTPError, KeyError):
        pass  # the sign-out goes on: the token expires by itself


# -- the routes ------------------------------------------------------------------------------

#: The token response of the sign-in being completed in this request (see _capture_tokens).
_TOKEN_RESPONSE: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "chatbot_token_response", default=None
)


def _capture_tokens() -> None:
    """Streamlit's callback keeps only the ID and access tokens of the provider's answer: its
    OAuth client is wrapped so that the whole answer reaches `callback` too."""
    from streamlit.web.server.starlette import starlette_auth_routes as auth_routes

    original = auth_routes._create_oauth_client
    if getattr(original, "chatbot_captures", False):
        return

    def create(provider: str) -> tuple[Any, str]:
        client, redirect_uri = original(provider)
        authorize = client.authorize_access_token

        async def authorize_and_keep(*args: Any, **kwargs: Any) -> dict[str, Any]:
            token = await authorize(*args, **kwargs)
            if (box := _TOKEN_RESPONSE.get()) is not None:
                box.update(token)
            return token

        client.authorize_access_token = authorize_and_keep
        return client, redirect_uri

    # A mark on the wrapper itself, which Streamlit's module keeps (a reload of this one would
    # forget a flag of ours); functions take attributes, which their type does not declare.
    create.chatbot_captures = True  # type: ignore[attr-defined]
    auth_routes._create_oauth_client = create


async def callback(request: Request) -> Response:
    from streamlit.web.server.starlette import starlette_auth_routes as auth_routes

    box: dict[str, Any] = {}
    held = _TOKEN_RESPONSE.set(box)
    try:
        response = await auth_routes._auth_callback(request, "")
    finally:
        _TOKEN_RESPONSE.reset(held)
    secret = auth_settings().get("cookie_secret")
    if box.get("refresh_token") and secret:
        response.set_cookie(
            REFRESH_COOKIE,
            seal(str(box["refresh_token"]), str(secret)),
            max_age=REFRESH_COOKIE_MAX_AGE_S,
            path="/",
            secure=came_over_https(request),
            httponly=True,
            samesite="lax",
        )
    return response


async def logout(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool
    from streamlit.web.server.starlette import starlette_auth_routes as auth_routes

    response = await auth_routes._auth_logout(request, "")
    settings = auth_settings()
    location = response.headers.get("location", "")
    if "post_logout_redirect_uri=" in location and settings.get("client_id") and settings.get("redirect_uri"):
        response.headers["location"] = cognito_logout_location(
            location.split("?", 1)[0], str(settings["client_id"]), app_root(str(settings["redirect_uri"]))
        )
    if refresh_token := unseal(request.cookies.get(REFRESH_COOKIE), settings.get("cookie_secret")):
        await run_in_threadpool(_revoke, refresh_token, settings)
    response.delete_cookie(
        REFRESH_COOKIE, path="/", secure=came_over_https(request), httponly=True, samesite="lax"
    )
    return response


def routes() -> list[Route]:
    """Before Streamlit's own routes of the same paths (st.App puts the app's routes first)."""
    _capture_tokens()
    return [
        Route("/auth/logout", logout, methods=["GET"]),
        Route("/oauth2callback", callback, methods=["GET"]),
    ]
