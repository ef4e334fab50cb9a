"""The local stack's sign-in tokens: HS256 JWTs signed with a secret kept in a file of the local
data folder. The web app issues them for the user it signed in; the chat API verifies them
(lambdas/chat_api/auth.py). Both sides read the secret from the same file, found by the same
rule: CHATBOT_LOCAL_SECRET_FILE, or SECRET_FILE_NAME in the data folder."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from pathlib import Path

import jwt

LOCAL_ISSUER = "chatbot-local"
LOCAL_AUDIENCE = "chatbot-api"
#: The secret's file in the local data folder, unless CHATBOT_LOCAL_SECRET_FILE names another.
SECRET_FILE_NAME = "local-auth-secret"
MIN_SECRET_CHARS = 32


def local_secret(path: Path) -> str:
    """The local signing secret, made on first use (readable by its owner only)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = path.with_suffix(".tmp")
        candidate.write_text(secrets.token_urlsafe(48))
        candidate.chmod(0o600)
        candidate.replace(path)
    return path.read_text().strip()


def issue_local_token(secret: str, user_id: str, *, ttl_s: int = 12 * 3600, roles: Iterable[str] = ()) -> str:
    if len(secret) < MIN_SECRET_CHARS:
        raise ValueError(f"the local token secret must be at least {MIN_SECRET_CHARS} characters")
    # `iat` to the microsecond (JSON keeps a float exactly): a token issued just after a
    # password reset or the account's creation is newer than it.
    now = time.time()
    claims: dict[str, object] = {
        "sub": user_id,
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "iat": now,
        "exp": int(now) + ttl_s,
    }
    if sorted_roles := sorted(roles):
        claims["roles"] = sorted_roles
    return jwt.encode(claims, secret, algorithm="HS256")
