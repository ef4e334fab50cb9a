"""The local users' command (the file itself: chatbot/api/users.py).

    python -m streamlit_app.users add NAME                  # asks for the password twice
    echo "$PASSWORD" | python -m streamlit_app.users add NAME --password-stdin
    python -m streamlit_app.users add NAME --admin          # or make NAME an administrator
    python -m streamlit_app.users remove NAME
    python -m streamlit_app.users list

`add` creates the user or resets an existing user's password. The first user is an
administrator; administrators also manage users on the web app's Users page.

`remove` edits the file only: it does not revoke the user's API keys (they live in the chat
history's database, which this command does not open, nor start when it is not running; the
Users page's removal revokes them). They are refused all the same: a key works only while its
account stands and only if it was made after the account, so a later account of the same name
does not inherit them.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from chatbot.api.users import UserInfo, UsersError, UsersFile, check_name
from streamlit_app.settings import UiSettings

__all__ = ["UserInfo", "UsersError", "UsersFile", "main"]


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
    add.add_argument("--admin", action="store_true", help="make the user an administrator")
    remove = commands.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    commands.add_parser("list", help="list the users")
    args = parser.parse_args(argv)

    users = UsersFile(UiSettings.from_env().users_file)
    try:
        if args.command == "list":
            listing = [f"{user.name}{' (administrator)' if user.admin else ''}" for user in users.listing()]
            print("\n".join(listing) or f"No users yet in {users.path}.")
            return 0
        if args.command == "remove":
            users.remove(args.name)
            print(f"Removed {check_name(args.name)} from {users.path}.")
            return 0
        is_new = users.add(args.name, _read_password(args.password_stdin), admin=args.admin)
    except UsersError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    name = check_name(args.name)
    role = " (administrator)" if users.is_admin(name) else ""
    print(f"{'Added' if is_new else 'Reset the password of'} {name}{role} in {users.path}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
