from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx

from chatbot.api.local_tokens import local_secret
from lambdas.chat_api.auth import LocalTokens
from launcher.processes import ROOT, free_port


def test_a_taken_port_is_a_clear_error_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "launcher", "--model-port", str(port), "--api-port", str(free_port())],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={"CHATBOT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is taken, and the model server needs it." in result.stderr
    assert "make chat MODEL_PORT=<port>" in result.stderr


def test_a_model_server_killed_under_the_running_stack_heals_and_chat_works_again(tmp_path):
    """`make chat`'s launcher, for real: the whole stack, its model server killed with SIGKILL.
    It is started as a script's background job is, with SIGINT ignored: Ctrl-C must still stop it."""
    ports = {flag: free_port() for flag in ("--model-port", "--api-port", "--ui-port")}
    console = tmp_path / "console.txt"
    with console.open("w") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "launcher", *(str(part) for pair in ports.items() for part in pair)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CHATBOT_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    try:
        said = wait_for_console(console, "The local stack is running", launcher)
        model_pid = int(re.search(r"ready: http://127\.0\.0\.1:\d+ \(pid (\d+)\)", said).group(1))
        os.kill(model_pid, signal.SIGKILL)
        said = wait_for_console(console, "The model server is back", launcher)
        assert "The model server exited (killed by signal 9). Restarting it in 0.5 s" in said
        token = LocalTokens(local_secret(tmp_path / "data" / "local-auth-secret")).issue("heal-test")
        api = f"http://127.0.0.1:{ports['--api-port']}"
        body = {"model": "smollm2-135m", "message": "Hi!", "parameters": {"max_new_tokens": 4}}
        with httpx.stream(
            "POST", f"{api}/chat", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as answer:
            assert answer.status_code == 200
            events = [json.loads(line) for line in answer.iter_lines() if line]
        assert events[-1]["type"] == "done", events
    finally:
        launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            launcher.terminate()  # SIGTERM: it stops its children and its Postgres
            try:
                launcher.wait(timeout=60)
            except subprocess.TimeoutExpired:
                launcher.kill()  # its children exit with their stdin
                launcher.wait()
            raise AssertionError(f"Ctrl-C did not stop the launcher:\n{console.read_text()}") from None


def wait_for_console(console, text: str, launcher: subprocess.Popen) -> str:
    """The launcher's output once it says `text` (it is a failure if it exits first)."""
    for _ in range(1200):
        said = console.read_text()
        if text in said:
            return said
        assert launcher.poll() is None, f"the launcher exited:\n{said}"
        time.sleep(0.1)
    raise AssertionError(f"the launcher never said {text!r}:\n{console.read_text()}")
