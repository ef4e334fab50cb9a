"""The web app as the local stack starts it (launcher/web_app.py): it serves, and it ends when
its parent's pipe on its stdin closes, however the parent went."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

from tests.servers import ROOT, free_port
from tests.waiting import eventually


def _health(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def test_the_web_app_serves_and_ends_when_its_stdin_closes():
    port = free_port()
    app = subprocess.Popen(
        [
            sys.executable,
            *("-m", "launcher.web_app", "--exit-with-stdin"),
            *("--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true"),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert eventually(lambda: _health(f"http://127.0.0.1:{port}/_stcore/health"), bool, timeout_s=120)
        assert app.stdin is not None
        app.stdin.close()  # what a parent's death does to the pipe
        assert app.wait(timeout=30) == 0
    finally:
        app.kill()
