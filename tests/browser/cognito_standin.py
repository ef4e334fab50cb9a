"""A stand-in for a Cognito user pool's hosted UI, holding to the parts of Cognito's documented
contract that the web app meets: OIDC discovery, /oauth2/authorize (the code flow, here signing
in one user at once), /oauth2/token (authorization_code and refresh_token grants, client secret
by HTTP Basic), /oauth2/revoke, and /logout, which answers as Cognito does when its parameters
are not `client_id` plus a `logout_uri` listed among the app client's sign-out URLs."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.servers import free_port
from tests.waiting import eventually

CLIENT_ID = "standin-client"
CLIENT_SECRET = "standin-client-secret"
#: Cognito's answer to a /logout without the parameters it needs (what streamlit#14601 shows).
MISSING_REDIRECT = "Required String parameter 'redirect_uri' is not present"


@dataclass
class CognitoStandIn:
    url: str
    #: The app client's sign-out URLs (infra/components/cognito.py: the app's root).
    sign_out_urls: list[str]
    #: Lifetime of the ID tokens it issues (Cognito's default is an hour)...
    id_token_ttl_s: float = 3600
    #: ... and of the sign-in's own, when it should differ (as if the sign-in were long ago).
    sign_in_id_token_ttl_s: float | None = None
    email: str = "alice@example.com"
    logouts: list[dict[str, str]] = field(default_factory=list)
    refreshes: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    _key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    _codes: dict[str, str] = field(default_factory=dict)

    def id_token(self, nonce: str | None = None, ttl_s: float | None = None) -> str:
        now = time.time()
        claims = {
            "iss": self.url,
            "aud": CLIENT_ID,
            "sub": "alice-sub",
            "email": self.email,
            "token_use": "id",
            "iat": int(now),
            "exp": int(now + (self.id_token_ttl_s if ttl_s is None else ttl_s)),
            **({"nonce": nonce} if nonce else {}),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "standin"})

    # -- the endpoints ----------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/.well-known/jwks.json", self._jwks),
                Route("/oauth2/authorize", self._authorize),
                Route("/oauth2/token", self._token, methods=["POST"]),
                Route("/oauth2/revoke", self._revoke, methods=["POST"]),
                Route("/logout", self._logout),
            ]
        )

    async def _discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/oauth2/authorize",
                "token_endpoint": f"{self.url}/oauth2/token",
                "revocation_endpoint": f"{self.url}/oauth2/revoke",
                "end_session_endpoint": f"{self.url}/logout",
                "jwks_uri": f"{self.url}/.well-known/jwks.json",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        key = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return JSONResponse({"keys": [{**key, "kid": "standin", "use": "sig", "alg": "RS256"}]})

    async def _authorize(self, request: Request) -> Response:
        params = request.query_params
        if params.get("client_id") != CLIENT_ID or params.get("response_type") != "code":
            return PlainTextResponse("invalid_request", status_code=400)
        code = secrets.token_urlsafe(16)
        self._codes[code] = params.get("nonce", "")
        query = urlencode({"code": code, "state": params.get("state", "")})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    def _client_ok(self, request: Request, form) -> bool:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            client, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client, secret = form.get("client_id", ""), form.get("client_secret", "")
        return client == CLIENT_ID and secret == CLIENT_SECRET

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        if not self._client_ok(request, form):
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        if form.get("grant_type") == "authorization_code":
            nonce = self._codes.pop(str(form.get("code")), None)
            if nonce is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            refresh = secrets.token_urlsafe(24)
            return JSONResponse(
                {
                    "id_token": self.id_token(nonce or None, self.sign_in_id_token_ttl_s),
                    "access_token": secrets.token_urlsafe(24),
                    "refresh_token": refresh,
                    "expires_in": int(self.id_token_ttl_s),
                    "token_type": "Bearer",
                }
            )
        if form.get("grant_type") == "refresh_token":
            refresh = str(form.get("refresh_token"))
            if refresh in self.revoked:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            self.refreshes.append(refresh)
            # Cognito answers a refresh with new ID and access tokens, not a new refresh token.
            return JSONResponse(
                {
                    "id_token": self.id_token(),
                    "access_token": secrets.token_urlsafe(24),
                    "expires_in": int(self.id_token_ttl_s),
                    "token_type": "Bearer",
                }
            )
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    async def _revoke(self, request: Request) -> Response:
        form = await request.form()
        if not self._client_ok(request, form):
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        self.revoked.add(str(form.get("token")))
        return Response(status_code=200)

    async def _logout(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.logouts.append(params)
        if params.get("client_id") != CLIENT_ID:
            return PlainTextResponse(MISSING_REDIRECT, status_code=400)
        if "logout_uri" in params:
            if params["logout_uri"] not in self.sign_out_urls:
                return PlainTextResponse("redirect_mismatch", status_code=400)
            return RedirectResponse(params["logout_uri"], status_code=302)
        return PlainTextResponse(MISSING_REDIRECT, status_code=400)


@contextmanager
def cognito_standin(sign_out_urls: list[str], **options) -> Iterator[CognitoStandIn]:
    port = free_port()
    standin = CognitoStandIn(url=f"http://127.0.0.1:{port}", sign_out_urls=sign_out_urls, **options)
    server = uvicorn.Server(uvicorn.Config(standin.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    eventually(lambda: server.started, bool)
    try:
        yield standin
    finally:
        server.should_exit = True
        thread.join(timeout=10)
