"""Who is calling: the user id comes from a verified bearer token, never from the request body.

- local: HS256 tokens signed with a secret kept in a file of the local data folder (the
  Streamlit app signs them for its logged-in users);
- cognito: Cognito ID tokens, checked against the user pool's JWKS (signature, issuer,
  audience, expiry, token use).

Roles ride in the same verified token: a local token carries `roles` (the app reads them from
the users file); a Cognito ID token carries the user's groups in `cognito:groups`, and a group
named like a role gives that role. `admin` manages users.

Users who sign in through an external identity provider (`chatbot:sso`, OIDC or SAML) have no
pool groups of their own for it: Cognito never puts a provider's groups in `cognito:groups`. The
user pool's pre-token-generation trigger (lambdas/sso_groups, event version V1_0) reads them from
the mapped attribute `custom:groups`, maps them to roles (`chatbot:sso.role_mapping`) and answers
with `groupOverrideDetails.groupsToOverride`, which Cognito writes as the ID token's
`cognito:groups`: the pool's groups plus the mapped roles. So one claim serves both kinds of user,
and the raw `custom:groups` (suppressed from the token by the trigger) never gives a role here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jwt
import requests

from chatbot.api.local_tokens import (
    LOCAL_AUDIENCE,
    LOCAL_ISSUER,
    MIN_SECRET_CHARS,
    issue_local_token,
)
from chatbot.chat.api_keys import ApiKey, hash_api_key, looks_like_api_key
from chatbot.errors import ChatbotError

#: The role that manages users (a Cognito group of the same name gives it in AWS).
ADMIN = "admin"
ROLES = frozenset({ADMIN})
ADMINS_ONLY = "Only an administrator can do this. Ask one to do it for you."
#: The ID token claim that names a Cognito user's groups (and an SSO user's mapped roles).
GROUPS_CLAIM = "cognito:groups"


class AuthError(ChatbotError):
    code = "unauthorized"
    http_status = 401


class ForbiddenError(ChatbotError):
    """Signed in, but this needs a role the user does not have."""

    code = "forbidden"
    http_status = 403


@dataclass(frozen=True)
class Caller:
    """Who is calling, from a verified token only."""

    user_id: str
    roles: frozenset[str] = frozenset()
    #: When the sign-in token was issued (epoch seconds); None for an API key's owner.
    issued_at: float | None = field(default=None, compare=False)
    #: When the API key the call came with was made (epoch seconds); None for a sign-in token.
    key_created_at: float | None = field(default=None, compare=False)
    #: Every group the token names (Cognito groups, local roles), known roles or not: quotas
    #: are set per group (chatbot/policy/limits.py).
    groups: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def require_admin(self) -> Caller:
        if not self.is_admin:
            raise ForbiddenError(ADMINS_ONLY)
        return self


def _roles(claim: object) -> frozenset[str]:
    """The known roles named in a token's claim (a list of names); anything else gives none."""
    if not isinstance(claim, list):
        return frozenset()
    return frozenset(name for name in claim if isinstance(name, str)) & ROLES


def _groups(claim: object) -> frozenset[str]:
    """Every group named in a token's claim (a list of names)."""
    if not isinstance(claim, list):
        return frozenset()
    return frozenset(name for name in claim if isinstance(name, str) and len(name) <= 128)


class TokenVerifier(Protocol):
    def caller(self, token: str) -> Caller:
        """The verified caller; raises AuthError."""
        ...


class LocalTokens:
    """Issues and verifies the local stack's HS256 tokens."""

    def __init__(self, secret: str):
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"the local token secret must be at least {MIN_SECRET_CHARS} characters")
        self._secret = secret

    def issue(self, user_id: str, *, ttl_s: int = 12 * 3600, roles: Iterable[str] = ()) -> str:
        return issue_local_token(self._secret, user_id, ttl_s=ttl_s, roles=roles)

    def user_id(self, token: str) -> str:
        return self.caller(token).user_id

    def caller(self, token: str) -> Caller:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=LOCAL_AUDIENCE,
                issuer=LOCAL_ISSUER,
                options={"require": ["sub", "exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("Your session has expired. Sign in again.") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"The sign-in token is not valid ({exc}). Sign in again.") from None
        issued_at = claims.get("iat")
        return Caller(
            claims["sub"],
            _roles(claims.get("roles")),
            float(issued_at) if isinstance(issued_at, (int, float)) else 0.0,
            groups=_groups(claims.get("roles")),
        )


class CognitoTokens:
    """Verifies Cognito ID tokens against the pool's published keys.

    The key set is fetched once, and again when a token names a key we have not seen (Cognito
    rotates keys, publishing the new one before it signs with it) - but at most once per
    `refresh_every_s`, however many such tokens arrive: anyone can make up a key id, and each
    fetch is a request to Cognito. A key id found missing is refused at once for as long (a
    negative cache). Tokens signed with a known key never wait: they read the current key set
    without the lock that a refresh holds."""

    def __init__(
        self,
        region: str,
        user_pool_id: str,
        client_id: str,
        *,
        timeout_s: float = 5,
        refresh_every_s: float = 30,
        retry_failed_fetch_after_s: float = 5,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self._client_id = client_id
        self._timeout_s = timeout_s
        self._refresh_every_s = refresh_every_s
        self._retry_failed_fetch_after_s = retry_failed_fetch_after_s
        self._clock = clock
        #: Replaced whole, never changed in place: readers need no lock.
        self._keys: dict[str, jwt.PyJWK] = {}
        #: Key ids found missing after a fetch, and when.
        self._unknown: dict[str, float] = {}
        #: When a fetch may next be made.
        self._next_fetch_at = float("-inf")
        self._refresh = threading.Lock()

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        response = requests.get(f"{self.issuer}/.well-known/jwks.json", timeout=self._timeout_s)
        response.raise_for_status()
        return {key["kid"]: jwt.PyJWK(key) for key in response.json()["keys"]}

    def _key(self, kid: str) -> jwt.PyJWK:
        if (key := self._keys.get(kid)) is not None:
            return key
        unknown = AuthError("The sign-in token was signed by an unknown key. Sign in again.")
        found_missing_at = self._unknown.get(kid)
        if found_missing_at is not None and self._clock() - found_missing_at < self._refresh_every_s:
            raise unknown
        with self._refresh:
            if (key := self._keys.get(kid)) is not None:  # fetched while this caller waited
                return key
            now = self._clock()
            if now >= self._next_fetch_at:
                try:
                    self._keys = self._fetch()
                    self._next_fetch_at = now + self._refresh_every_s
                except (requests.RequestException, KeyError, ValueError) as exc:
                    self._next_fetch_at = now + self._retry_failed_fetch_after_s
                    raise AuthError(
                        f"Cannot fetch the sign-in keys of the user pool ({exc}). Try again."
                    ) from None
            if (key := self._keys.get(kid)) is None:
                if len(self._unknown) > 10_000:  # made-up ids: keep the cache bounded
                    self._unknown = {}
                self._unknown[kid] = now
                raise unknown
            return key

    def user_id(self, token: str) -> str:
        return self.caller(token).user_id

    def caller(self, token: str) -> Caller:
        try:
            kid = jwt.get_unverified_header(token).get("kid", "")
            claims = jwt.decode(
                token,
                self._key(kid),
                algorithms=["RS256"],
                audience=self._client_id,
                issuer=self.issuer,
                options={"require": ["sub", "exp", "iss", "aud", "token_use"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("Your session has expired. Sign in again.") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"The sign-in token is not valid ({exc}). Sign in again.") from None
        if claims["token_use"] != "id":
            raise AuthError("Send the Cognito ID token, not the access token.")
        groups = claims.get(GROUPS_CLAIM)  # pool groups and, for SSO users, their mapped roles
        return Caller(claims["sub"], _roles(groups), claims.get("iat"), groups=_groups(groups))


#: Behind a function URL with AWS_IAM auth, `Authorization` carries the caller's SigV4
#: signature, so the signed-in user's token travels in this header instead.
ID_TOKEN_HEADER = "x-id-token"


def user_token(headers: Mapping[str, str]) -> str:
    """The user's token: the X-Id-Token header, or else `Authorization: Bearer <token>`."""
    if token := headers.get(ID_TOKEN_HEADER, "").strip():
        return token
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Sign in first: send 'Authorization: Bearer <token>' (or an X-Id-Token header).")
    return token.strip()


#: Where an API key may also travel: in AWS, CloudFront signs gateway requests for the function
#: URL (origin access control), which takes the `Authorization` header, so the edge moves the
#: caller's key here (see DEPLOY.md).
API_KEY_HEADER = "x-api-key"


def presented_api_key(headers: Mapping[str, str]) -> str | None:
    """An API key sent as `Authorization: Bearer sk-chatbot-...` (how OpenAI clients send theirs)
    or in X-Api-Key, or None when the caller sent something else (a sign-in token, or nothing)."""
    if looks_like_api_key(key := headers.get(API_KEY_HEADER, "").strip()):
        return key
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and looks_like_api_key(token) else None


def api_key_record(key: str, find_by_hash: Callable[[str], ApiKey | None]) -> ApiKey:
    """The stored record of an active key; raises AuthError for an unknown or revoked one."""
    record = find_by_hash(hash_api_key(key))
    if record is None or not record.active:
        raise AuthError(
            f"Incorrect API key provided: {key[:15]}... Create a key in the app (Settings) or check "
            "that it was not revoked."
        )
    return record


class Accounts(Protocol):
    def check(self, caller: Caller) -> None:
        """Raises AuthError unless the caller's account still stands (and, for a sign-in token,
        the token is newer than anything that revoked it)."""
        ...


class LocalAccounts:
    """The local users file: the user must still be in it, a token must be newer than the
    account and its last password reset, and an API key newer than the account. The file is parsed again only when it changes.

    No file at all means no accounts made yet: nothing to check against (the only tokens then
    come from `python -m lambdas.chat_api.token`, run by whoever holds the signing secret)."""

    def __init__(self, users_file: Path):
        from chatbot.api.users import UsersFile

        self._users = UsersFile(users_file)

    def check(self, caller: Caller) -> None:
        if not self._users.exists():
            return
        if caller.key_created_at is not None:
            if not self._users.accepts_api_key(caller.user_id, caller.key_created_at):
                raise AuthError(
                    "This API key is no longer valid: its account was removed (a new account of "
                    "the same name does not inherit its keys). Create a key in the app (Settings)."
                )
            return
        if not self._users.accepts_token(caller.user_id, caller.issued_at):
            raise AuthError(
                "This sign-in is no longer valid: the account was removed or its password was "
                "reset. Sign in again."
            )


class AccountCheckUnavailableError(AuthError):
    """The user pool did not answer and nothing is known of the account yet. To a request it is
    a 401 to try again; to a deletion of the account's data it means: delete nothing."""

    code = "account_unchecked"
    http_status = 401


class CognitoAccounts:
    """The user pool: a token's or key's user must still be there and enabled. Cognito's tokens
    live an hour and cannot be revoked one by one, so the user's status is asked of the pool
    (ListUsers filtered by `sub`) and kept for `ttl_s`: a user disabled or deleted in the pool
    is refused within that time. Needs cognito-idp:ListUsers on the pool (IAM_ACTIONS)."""

    IAM_ACTIONS = ("cognito-idp:ListUsers",)

    def __init__(
        self,
        client: Any,
        user_pool_id: str,
        *,
        ttl_s: float = 60,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._client = client
        self._pool = user_pool_id
        self._ttl_s = ttl_s
        self._clock = clock
        self._checked: dict[str, tuple[float, bool]] = {}

    def _enabled(self, sub: str) -> bool:
        if '"' in sub or "\\" in sub:  # not a sub Cognito makes; and it would break the filter
            return False
        users = self._client.list_users(UserPoolId=self._pool, Filter=f'sub = "{sub}"', Limit=1)["Users"]
        return bool(users) and bool(users[0].get("Enabled", False))

    def check(self, caller: Caller) -> None:
        now = self._clock()
        checked = self._checked.get(caller.user_id)
        if checked is None or now - checked[0] >= self._ttl_s:
            try:
                checked = (now, self._enabled(caller.user_id))
            except Exception as exc:  # botocore's errors, throttling included
                if checked is None:
                    raise AccountCheckUnavailableError(
                        f"Cannot check your account with the user pool ({exc}). Try again."
                    ) from None
                # The pool did not answer: the last known status stands until it does.
            else:
                if len(self._checked) > 100_000:
                    self._checked = {}
                self._checked[caller.user_id] = checked
        if not checked[1]:
            raise AuthError(
                "This account is disabled or was deleted from the user pool. Ask an administrator."
            )
