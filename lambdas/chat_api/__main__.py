"""`python -m lambdas.chat_api --port 8000`: the chat API under uvicorn (configured by the
environment: see settings.py). On Lambda, run.sh starts it instead."""

from __future__ import annotations

import argparse

import uvicorn

from chatbot.lifecycle import exit_when_stdin_closes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--exit-with-stdin", action="store_true", help="exit when stdin closes")
    args = parser.parse_args()
    if args.exit_with_stdin:
        exit_when_stdin_closes()
    uvicorn.run("lambdas.chat_api.app:app", host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
