"""Start the project's own servers for tests: on 127.0.0.1, on a free port, stopped at the end.

Each server gets `--exit-with-stdin` and a pipe for stdin, so it exits on its own even if
the test process is killed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(
    args: list[str], health_url: str, *, timeout_s: float = 60, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    # Output goes to a file: a pipe nobody reads fills up and blocks a chatty server.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        try:
            _wait_until_healthy(process, log, health_url, timeout_s)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_healthy(process: subprocess.Popen, log, health_url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.args} did not become healthy within {timeout_s}s")
        time.sleep(0.1)


@contextmanager
def model_server_process(*extra_args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """The real model server (both local models unless told otherwise): its URL and process."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        "-m",
        "inference",
        "--config",
        "models.yaml",
        "--port",
        str(port),
        "--exit-with-stdin",
        *extra_args,
    ]
    with running_server(args, f"{url}/ping") as process:
        yield url, process


@contextmanager
def model_server(*extra_args: str) -> Iterator[str]:
    with model_server_process(*extra_args) as (url, _):
        yield url


@contextmanager
def chat_api_server(env: dict[str, str]) -> Iterator[str]:
    """The real chat API (`python -m lambdas.chat_api`), configured by `env`; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["-m", "lambdas.chat_api", "--port", str(port), "--exit-with-stdin"]
    with running_server(args, f"{url}/health", env=env):
        yield url
