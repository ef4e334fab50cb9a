"""Starting the project's servers as child processes and waiting until they are healthy.

Used by the local stack (`make chat`), the tests and the benchmarks. Each child ends when its
parent goes, however it goes: our servers take `--exit-with-stdin` and get a pipe on stdin, and
every child also asks the kernel for SIGTERM at its parent's death (`dies_with_parent`), which
covers the servers that read no stdin (llama.cpp's, the benchmarks' peers).
"""

from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import httpx

ROOT = Path(__file__).resolve().parent.parent


class StartupError(RuntimeError):
    pass


#: The lowest port of Linux's default range for outgoing connections, when /proc does not say.
LOWEST_EPHEMERAL_PORT_DEFAULT = 32768
LOWEST_PICKED_PORT = 10000


def free_port() -> int:
    """A port free now on 127.0.0.1, for a server that a child process binds a moment later.
    Picked below the kernel's ephemeral range: a port from that range (what binding port 0 gives)
    can be taken meanwhile as the local port of an outgoing connection (a busy test suite makes
    thousands), and the child then fails with "address already in use"."""
    candidates = range(LOWEST_PICKED_PORT, _lowest_ephemeral_port())
    for port in random.sample(candidates, min(100, len(candidates))):
        if port_is_free("127.0.0.1", port):
            return port
    with socket.socket() as sock:  # no range below the ephemeral one: the kernel's pick
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lowest_ephemeral_port() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return LOWEST_EPHEMERAL_PORT_DEFAULT


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


#: prctl(2)'s option: the signal the kernel sends this process when its parent dies.
PR_SET_PDEATHSIG = 1


def dies_with_parent() -> None:
    """For `preexec_fn`: SIGTERM to the child when the thread that started it ends (its parent's
    death, a SIGKILL included). Start long-lived children from a thread that lives as long as
    they should: the main thread, or the thread that waits on them."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_server(
    args: list[str],
    health_url: str,
    *,
    log: BinaryIO,
    timeout_s: float = 60,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """`python <args>`, healthy (200 at `health_url`) when this returns; StartupError (and the
    child stopped) if it exits or is not healthy in time. Output goes to `log`, a file: a pipe
    nobody reads fills up and blocks a chatty server."""
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        # Its own process group: Ctrl-C in the terminal reaches the parent alone, which then
        # stops its children in order (rather than watching them all die at once).
        start_new_session=True,
        preexec_fn=dies_with_parent,
    )
    try:
        _wait_until_healthy(process, log, health_url, timeout_s)
    except BaseException:
        stop_server(process)
        raise
    return process


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(args: list[str], health_url: str, **options: Any) -> Iterator[subprocess.Popen]:
    """`start_server(args, health_url, **options)` until the block ends."""
    process = start_server(args, health_url, **options)
    try:
        yield process
    finally:
        stop_server(process)


def log_tail(log: BinaryIO, lines: int = 20) -> str:
    """The last lines a child wrote to its log file."""
    log.flush()
    log.seek(0)
    return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])


def _wait_until_healthy(process: subprocess.Popen, log: BinaryIO, health_url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            output = log_tail(log, lines=40)[-4000:]
            raise StartupError(f"{_command(process)} exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise StartupError(f"{_command(process)} was not healthy within {timeout_s:.0f}s")
        time.sleep(0.1)


def _command(process: subprocess.Popen) -> str:
    """How a child is named in errors: its arguments after the interpreter."""
    args = process.args
    parts = list(args) if isinstance(args, list | tuple) else [args]
    return " ".join(str(part) for part in parts[1:])
