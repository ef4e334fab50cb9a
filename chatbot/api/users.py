"""The local stack's users: a YAML file of bcrypt hashes in streamlit-authenticator's layout.

The web app signs people in against it; its administrators manage it on the Users page, through
the chat API's /users routes (which check the role); `python -m streamlit_app.users` manages it
from a shell. The first account ever made is an administrator, and the last administrator cannot
be removed: someone can always manage the users. Plain passwords are never stored.
"""

from __future__ import annotations

import copy
import fcntl
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: streamlit-authenticator lower-cases the stored names but not what people type: keep names lower-case.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD_CHARS = 8
#: bcrypt reads no more than this of a password (and bcrypt 5 refuses a longer one).
MAX_PASSWORD_BYTES = 72
COOKIE_NAME = "chatbot_login"
COOKIE_EXPIRY_DAYS = 7
#: A user's field: "remember me" cookies expiring at or before this (epoch seconds) are refused.
SIGNED_OUT_UNTIL = "signed_out_until"
#: A user's field: the chat API refuses their sign-in tokens issued before this (epoch seconds):
#: set when the account is made (an earlier token named someone removed) and when its password
#: is reset. A removed user's tokens are refused because the user is gone.
TOKENS_VALID_AFTER = "tokens_valid_after"
#: A user's field: when the account was made (epoch seconds), never changed afterwards (a password
#: reset keeps it). An API key made before it was a removed namesake's: the chat API refuses it.
#: Files written before this field existed lack it: the account's TOKENS_VALID_AFTER stands in
#: (set when the account was made, later only by a password reset: a key older than the last
#: reset must then be made again, which is the safe side), and 0 where that is missing too.
ACCOUNT_CREATED_AT = "created_at"
#: The role that manages users (the chat API's auth.ADMIN).
ADMIN = "admin"

#: Parsed users files by path, with the identity of the version parsed (inode, mtime, size): the
#: chat API reads the file on every request, and a write replaces the file (a new inode).
_parsed: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}
_parsed_lock = threading.Lock()


class UsersError(ValueError):
    """A user name or password that cannot be used; the message says why."""


class UserInfo(BaseModel):
    """A user as the Users page lists them (never the hash)."""

    model_config = ConfigDict(frozen=True)

    name: str
    admin: bool


class UserChange(BaseModel):
    """PUT /users/{name}: create the user, or reset their password."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=200)
    #: Make the user an administrator (a reset leaves an administrator one).
    admin: bool = False


class UserSaved(BaseModel):
    user: UserInfo
    #: False when an existing user's password was reset.
    created: bool


class RememberMe(BaseModel):
    """A "remember me" cookie, in streamlit-authenticator's format: a JWT of the user name and
    its expiry (`exp_date`, epoch seconds), signed HS256 with the users file's cookie key."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: str
    expires_at: float


class UsersFile:
    """The credentials file. The cookie key that signs "remember me" cookies lives in it too,
    made on first use, so the file is kept readable by its owner only."""

    def __init__(self, path: Path):
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> dict[str, Any]:
        """The file's data (a copy: callers may change it), parsed again only when the file changed."""
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return {"credentials": {"usernames": {}}, "cookie": {}}
        version = (status.st_ino, status.st_mtime_ns, status.st_size)
        with _parsed_lock:
            cached = _parsed.get(self.path)
        if cached is None or cached[0] != version:
            cached = (version, self._parse())
            with _parsed_lock:
                _parsed[self.path] = cached
        return copy.deepcopy(cached[1])

    def _parse(self) -> dict[str, Any]:
        import yaml  # here, not above: the chat API's Lambda imports this module but never a file

        if not self.path.exists():
            return {"credentials": {"usernames": {}}, "cookie": {}}
        data = yaml.safe_load(self.path.read_text()) or {}
        data.setdefault("credentials", {}).setdefault("usernames", {})
        data["credentials"]["usernames"] = data["credentials"]["usernames"] or {}
        data.setdefault("cookie", {})
        return data

    def names(self) -> list[str]:
        return sorted(self.load()["credentials"]["usernames"])

    def credentials(self) -> dict[str, Any]:
        """What streamlit-authenticator's `Authenticate(credentials=...)` takes."""
        return {"usernames": self.load()["credentials"]["usernames"]}

    def cookie_key(self) -> str:
        key = self.load()["cookie"].get("key")
        if not key:
            raise UsersError(
                f"{self.path} has no cookie key: add a user with `python -m streamlit_app.users add NAME`."
            )
        return str(key)

    def cookie_name(self) -> str:
        return str(self.load()["cookie"].get("name", COOKIE_NAME))

    def is_admin(self, name: str) -> bool:
        return ADMIN in self._user(name).get("roles", [])

    def listing(self) -> list[UserInfo]:
        return [UserInfo(name=name, admin=self.is_admin(name)) for name in self.names()]

    def add(self, name: str, password: str, *, admin: bool = False) -> bool:
        """Adds the user, or resets the password of an existing one (their role stays unless
        `admin` grants it); True when the user is new. The first user is an administrator."""
        name = check_name(name)
        check_password(password)
        with self._locked() as data:
            users = data["credentials"]["usernames"]
            is_new = name not in users
            entry = {**users.get(name, {}), "name": name, "password": _hash(password)}
            if admin or not users:
                entry["roles"] = sorted({*entry.get("roles", []), ADMIN})
            if not is_new:  # a new password ends every "remember me" made with the old one
                entry[SIGNED_OUT_UNTIL] = _expiry_of_a_cookie_made_now(data)
            # ... and every sign-in token; a new account's name may be a removed user's
            entry[TOKENS_VALID_AFTER] = now = time.time()
            if is_new:  # never reset: the API keys made before it were a namesake's
                entry[ACCOUNT_CREATED_AT] = now
            users[name] = entry
        return is_new

    def sign_out_everywhere(self, name: str) -> None:
        """Refuses every "remember me" cookie made for `name` until now, in every browser. The
        browser deletes its own cookie only once the sign-out page's component has run there; a
        reload can come first, and another browser keeps its copy: the server must refuse them."""
        with self._locked() as data:
            entry = data["credentials"]["usernames"].get(name)
            if entry is not None:
                entry[SIGNED_OUT_UNTIL] = _expiry_of_a_cookie_made_now(data)

    def accepts_cookie(self, name: str, expires_at: float) -> bool:
        """Whether a "remember me" cookie for `name` that expires at `expires_at` (epoch seconds)
        still signs in: its user exists and it was made after their last sign-out. Cookies expire
        a fixed time after they are made, so a later expiry means a later cookie."""
        user = self._user(name)
        return bool(user) and expires_at > float(user.get(SIGNED_OUT_UNTIL, 0))

    def accepts_token(self, name: str, issued_at: float | None) -> bool:
        """Whether a sign-in token of `name` issued at `issued_at` (epoch seconds; None: not a
        token, e.g. an API key of theirs) is still good: its user exists and it was issued after
        the account was made and after its last password reset."""
        user = self._user(name)
        if not user:
            return False
        return issued_at is None or issued_at >= float(user.get(TOKENS_VALID_AFTER, 0))

    def accepts_api_key(self, name: str, key_created_at: float) -> bool:
        """Whether an API key of `name` made at `key_created_at` (epoch seconds) still works: its
        user exists and the key was made after the account was. A removed user's keys are revoked
        by the API's removal, but not by `python -m streamlit_app.users remove` nor when the
        revocation failed: a later account of the same name must not inherit them."""
        user = self._user(name)
        if not user:
            return False
        made_at = user.get(ACCOUNT_CREATED_AT, user.get(TOKENS_VALID_AFTER, 0))
        return key_created_at >= float(made_at)

    def remember_me(self, name: str) -> RememberMe:
        """A new "remember me" cookie for `name`, expiring `expiry_days` from now."""
        import jwt

        data = self.load()
        expires_at = _expiry_of_a_cookie_made_now(data)
        value = jwt.encode({"username": name, "exp_date": expires_at}, self.cookie_key(), algorithm="HS256")
        return RememberMe(name=self.cookie_name(), value=value, expires_at=expires_at)

    def create_first(self, name: str, password: str) -> None:
        """The first account, an administrator; refused once anyone has an account (two people
        at two browsers cannot both become the first)."""
        name = check_name(name)
        check_password(password)
        with self._locked() as data:
            users = data["credentials"]["usernames"]
            if users:
                raise UsersError(
                    "The first account exists already: sign in, or ask its owner for an account."
                )
            users[name] = {
                "name": name,
                "password": _hash(password),
                "roles": [ADMIN],
                TOKENS_VALID_AFTER: (now := time.time()),
                ACCOUNT_CREATED_AT: now,
            }

    def remove(self, name: str) -> None:
        """Removes the user; never the last administrator (someone must be able to manage users)."""
        name = name.strip().lower()
        with self._locked() as data:
            users = data["credentials"]["usernames"]
            if name not in users:
                raise UsersError(f"There is no user {name!r}.")
            admins = [other for other, entry in users.items() if ADMIN in entry.get("roles", [])]
            if admins == [name]:
                raise UsersError(
                    f"{name} is the last administrator: make another user an administrator first."
                )
            del users[name]

    def check(self, name: str, password: str) -> bool:
        import bcrypt

        user = self._user(name)
        secret = password.encode("utf-8", errors="surrogatepass")
        if not user or len(secret) > MAX_PASSWORD_BYTES:  # no password this long was ever stored
            return False
        return bcrypt.checkpw(secret, str(user["password"]).encode())

    def _user(self, name: str) -> dict[str, Any]:
        return self.load()["credentials"]["usernames"].get(name) or {}

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The file's data, written back when the block ends; one writer at a time (the web app,
        the chat API and the command may all change it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._parse()  # never a cached copy: this is the version written back
            yield data
            data["cookie"] = {
                "name": data["cookie"].get("name", COOKIE_NAME),
                "key": data["cookie"].get("key") or secrets.token_urlsafe(48),
                "expiry_days": data["cookie"].get("expiry_days", COOKIE_EXPIRY_DAYS),
            }
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        import yaml

        self.path.parent.mkdir(parents=True, exist_ok=True)
        candidate = self.path.with_suffix(".tmp")
        # Created 0600 from the start: the file holds the cookie key.
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            yaml.safe_dump(data, out, sort_keys=True)
        candidate.replace(self.path)


def _expiry_of_a_cookie_made_now(data: dict[str, Any]) -> float:
    """Cookies expire a fixed time after they are made: this is later than the expiry of every
    cookie made until now."""
    return time.time() + float(data["cookie"].get("expiry_days", COOKIE_EXPIRY_DAYS)) * 86400


def check_name(name: str) -> str:
    name = name.strip().lower()
    if not NAME_PATTERN.match(name):
        raise UsersError(
            f"{name!r} cannot be a user name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsersError(f"The password is too short: use at least {MIN_PASSWORD_CHARS} characters.")
    if len(password.encode("utf-8", errors="surrogatepass")) > MAX_PASSWORD_BYTES:
        raise UsersError(
            f"The password is too long: use at most {MAX_PASSWORD_BYTES} bytes in UTF-8 (a letter "
            "outside English takes 2 to 4), for example a passphrase of a few words."
        )


def _hash(password: str) -> str:
    import bcrypt

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
