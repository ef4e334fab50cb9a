"""Process lifetime helpers shared by the project's servers."""

from __future__ import annotations

import os
import sys
import threading


def exit_when_stdin_closes() -> None:
    """Exit as soon as stdin closes. A parent (a test run, `make chat`) that starts a server
    with a pipe on its stdin can never leave it behind, even if the parent is killed."""

    def watch() -> None:
        while sys.stdin.buffer.read(1024):
            pass
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-stdin", daemon=True).start()
