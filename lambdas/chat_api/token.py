"""`python -m lambdas.chat_api.token USER`: print a local sign-in token for USER (local stack only)."""

from __future__ import annotations

import argparse

from chatbot.api.local_tokens import local_secret
from lambdas.chat_api.auth import LocalTokens
from lambdas.chat_api.settings import ChatApiSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("user")
    parser.add_argument("--hours", type=int, default=12)
    args = parser.parse_args()
    secret = local_secret(ChatApiSettings.from_env().secret_file)
    print(LocalTokens(secret).issue(args.user, ttl_s=args.hours * 3600))


if __name__ == "__main__":
    main()
