"""`python -m launcher.web_app [--exit-with-stdin] [streamlit run options]`: the web app as the
local stack runs it.

`--exit-with-stdin` is the local stack's own option (every server it starts ends with its
parent, however the parent goes); the rest is the image's entry point, streamlit_app.serve. The
watch lives here, not in the app, so the app imports nothing of the core library beyond the
API's contract and the event schema (tests/streamlit_app/test_image.py)."""

from __future__ import annotations

import sys

from chatbot.lifecycle import exit_when_stdin_closes


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--exit-with-stdin" in args:
        args.remove("--exit-with-stdin")
        exit_when_stdin_closes()
    from streamlit_app.serve import main as serve

    serve(args)


if __name__ == "__main__":
    main()
