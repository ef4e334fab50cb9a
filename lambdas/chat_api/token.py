"""`python -m lambdas.chat_api.token USER [--admin]`: print a local sign-in token for USER
(local stack only; `--admin` makes it an administrator's token)."""

from __future__ import annotations

import argparse

from chatbot.api.local_tokens import local_secret
from lambdas.chat_api.auth import ADMIN, LocalTokens
from lambdas.chat_api.settings import ChatApiSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("user")
    parser.add_argument("--hours", type=int, default=12)
    parser.add_argument(
        "--admin",
        action="store_true",
        help="an administrator's token (the users file, where there is one, must say so too)",
    )
    args = parser.parse_args(argv)
    secret = local_secret(ChatApiSettings.from_env().secret_file)
    roles = [ADMIN] if args.admin else []
    print(LocalTokens(secret).issue(args.user, ttl_s=args.hours * 3600, roles=roles))


if __name__ == "__main__":
    main()
