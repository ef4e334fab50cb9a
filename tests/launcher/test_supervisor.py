"""The supervisor keeps the stack's servers up: a real child process, killed or crashing."""

from __future__ import annotations

import os
import signal
import threading

import httpx
import pytest

from launcher.processes import free_port
from launcher.supervisor import ChildGaveUpError, ChildSpec, FailureWindow, RestartPolicy, Supervisor

#: A small real server that answers /health. With CRASH set, it says why and exits soon after its
#: first health check (as a server that fails on its own would, once it has started).
CHILD = """
import http.server, os, sys, threading
port = int(sys.argv[1])
def crash():
    print("fatal: the disk is full", flush=True)
    os._exit(3)
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        if os.environ.get("CRASH"):
            threading.Timer(0.2, crash).start()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""
QUICK = RestartPolicy(first_backoff_s=0.05, max_backoff_s=0.2, start_timeout_s=30)


def child(tmp_path, **env: str) -> ChildSpec:
    port = free_port()
    return ChildSpec(
        name="test server",
        args=["-c", CHILD, str(port)],
        health_url=f"http://127.0.0.1:{port}/health",
        log_path=tmp_path / "test-server.log",
        env=env,
    )


class Console:
    """What the supervisor says, and a way to wait for a line."""

    def __init__(self):
        self.lines: list[str] = []
        self._said = threading.Condition()

    def say(self, line: str) -> None:
        with self._said:
            self.lines.append(line)
            self._said.notify_all()

    def wait_for(self, text: str, count: int = 1) -> None:
        with self._said:
            found = self._said.wait_for(lambda: sum(text in line for line in self.lines) >= count, timeout=60)
        assert found, f"the console never said {text!r} {count} time(s): {self.lines}"


def test_failures_pause_longer_each_time_and_give_up_after_five_within_the_window():
    window = FailureWindow(RestartPolicy(max_failures=5, window_s=120, first_backoff_s=0.5, max_backoff_s=8))
    assert [window.record(now) for now in (0, 1, 2, 3)] == [0.5, 1, 2, 4]
    assert window.record(4) is None, "the fifth failure within two minutes gives up"


def test_failures_older_than_the_window_are_forgotten():
    window = FailureWindow(RestartPolicy(max_failures=5, window_s=120, first_backoff_s=0.5, max_backoff_s=8))
    for now in (0, 1, 2, 3):
        window.record(now)
    assert window.record(200) == 0.5, "a failure long after the others starts the count afresh"


def test_a_killed_child_is_restarted_and_the_console_says_so(tmp_path):
    console = Console()
    supervisor = Supervisor(QUICK, say=console.say)
    spec = child(tmp_path)
    try:
        first = supervisor.start(spec)
        os.kill(first.pid, signal.SIGKILL)
        console.wait_for("The test server is back")
        assert httpx.get(spec.health_url).status_code == 200
        assert supervisor.process("test server").pid != first.pid
    finally:
        supervisor.stop()
    assert "The test server exited (killed by signal 9). Restarting it in 0.05 s" in console.lines[0]
    assert supervisor.process("test server").poll() is not None, "stop() stops the restarted child"


def test_a_child_that_keeps_failing_is_given_up_on_with_the_end_of_its_log(tmp_path):
    console = Console()
    supervisor = Supervisor(QUICK, say=console.say)
    try:
        supervisor.start(child(tmp_path, CRASH="yes"))
        with pytest.raises(ChildGaveUpError) as gave_up:
            supervisor.watch(poll_s=0.05)
    finally:
        supervisor.stop()
    restarts = [line for line in console.lines if "Restarting it" in line]
    assert len(restarts) == 4, console.lines
    assert "The test server failed 5 times within 120 s; not restarting it again." in str(gave_up.value)
    assert "fatal: the disk is full" in gave_up.value.tail
