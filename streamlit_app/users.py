"""Local users: a YAML file of bcrypt hashes in streamlit-authenticator's layout, and the command
that manages it.

    python -m streamlit_app.users add NAME                  # asks for the password twice
    echo "$PASSWORD" | python -m streamlit_app.users add NAME --password-stdin
    python -m streamlit_app.users list

`add` creates the user or resets an existing user's password. Plain passwords are never stored.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from streamlit_app.settings import UiSettings

#: streamlit-authenticator lower-cases the stored names but not what people type: keep names lower-case.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD_CHARS = 8
COOKIE_NAME = "chatbot_login"
COOKIE_EXPIRY_DAYS = 7


class UsersError(ValueError):
    """A user name or password that cannot be used; the message says why."""


class UsersFile:
    """The credentials file. The cookie key that signs "remember me" cookies lives in it too,
    made on first use, so the file is kept readable by its owner only."""

    def __init__(self, path: Path):
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> dict[str, Any]:
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

    def add(self, name: str, password: str) -> bool:
        """Adds the user, or resets the password of an existing one; True when the user is new."""
        name = check_name(name)
        check_password(password)
        data = self.load()
        users = data["credentials"]["usernames"]
        is_new = name not in users
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
        users[name] = {**users.get(name, {}), "name": name, "password": hashed}
        data["cookie"] = {
            "name": data["cookie"].get("name", COOKIE_NAME),
            "key": data["cookie"].get("key") or secrets.token_urlsafe(48),
            "expiry_days": data["cookie"].get("expiry_days", COOKIE_EXPIRY_DAYS),
        }
        self._write(data)
        return is_new

    def check(self, name: str, password: str) -> bool:
        user = self.load()["credentials"]["usernames"].get(name)
        return bool(user) and bcrypt.checkpw(password.encode(), str(user["password"]).encode())

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        candidate = self.path.with_suffix(".tmp")
        # Created 0600 from the start: the file holds the cookie key.
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            yaml.safe_dump(data, out, sort_keys=True)
        candidate.replace(self.path)


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


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise UsersError("The two passwords differ. Nothing was changed.")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streamlit_app.users", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a user, or reset a user's password")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    commands.add_parser("list", help="list the user names")
    args = parser.parse_args(argv)

    users = UsersFile(UiSettings.from_env().users_file)
    try:
        if args.command == "list":
            print("\n".join(users.names()) or f"No users yet in {users.path}.")
            return 0
        is_new = users.add(args.name, _read_password(args.password_stdin))
    except UsersError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    name = check_name(args.name)
    print(f"{'Added' if is_new else 'Reset the password of'} {name} in {users.path}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
