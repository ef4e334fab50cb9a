"""Keeping the local stack's servers up: a child that exits is started again, with backoff.

Each child has a watcher thread that waits for its process to end. Unless the stack is
stopping, the exit is a failure: the console says so, and the child is started again after
a pause that doubles with each recent failure. A child that fails `max_failures` times within
`window_s` is given up on: the console shows the last lines of its log, and `watch()` raises
`ChildGaveUpError` so the launcher can stop the whole stack (a stack without its model server is
no use, and the log says why).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from launcher.processes import StartupError, log_tail, start_server, stop_server


@dataclass(frozen=True)
class RestartPolicy:
    #: This many failures within `window_s` and the child is given up on.
    max_failures: int = 5
    window_s: float = 120
    #: The pause before the first restart; it doubles with each failure in the window.
    first_backoff_s: float = 0.5
    max_backoff_s: float = 8
    #: How long a (re)started child may take to become healthy.
    start_timeout_s: float = 60


@dataclass
class FailureWindow:
    """The recent failures of one child, and the pause before its next start."""

    policy: RestartPolicy
    _times: deque[float] = field(default_factory=deque)

    def record(self, now: float) -> float | None:
        """Counts a failure at `now`: the pause before the next start, or None to give up."""
        self._times.append(now)
        while self._times and now - self._times[0] > self.policy.window_s:
            self._times.popleft()
        if len(self._times) >= self.policy.max_failures:
            return None
        return min(self.policy.first_backoff_s * 2 ** (len(self._times) - 1), self.policy.max_backoff_s)

    @property
    def count(self) -> int:
        return len(self._times)


@dataclass(frozen=True)
class ChildSpec:
    #: How the console names it: "model server", "chat API", "web app".
    name: str
    #: `python <args>`
    args: list[str]
    health_url: str
    log_path: Path
    env: dict[str, str] | None = None


class ChildGaveUpError(RuntimeError):
    def __init__(self, spec: ChildSpec, failures: int, window_s: float, tail: str):
        self.spec = spec
        self.tail = tail
        super().__init__(
            f"The {spec.name} failed {failures} times within {window_s:.0f} s; not restarting it again. "
            f"The last lines of its log ({spec.log_path}):\n{tail}"
        )


class _Child:
    def __init__(self, spec: ChildSpec, policy: RestartPolicy):
        self.spec = spec
        self.failures = FailureWindow(policy)
        # Fresh for each launch, then appended to across restarts (O_APPEND: reading the tail
        # moves no child's writing position), so the log tells the whole story.
        spec.log_path.write_bytes(b"")
        self.log: BinaryIO = spec.log_path.open("a+b")
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float) -> subprocess.Popen:
        self.process = start_server(
            self.spec.args, self.spec.health_url, log=self.log, timeout_s=timeout_s, env=self.spec.env
        )
        return self.process


class Supervisor:
    """Starts children, restarts the ones that exit, and stops them all at the end."""

    def __init__(self, policy: RestartPolicy | None = None, *, say: Callable[[str], None] = print):
        self.policy = policy or RestartPolicy()
        self._say = say
        self._children: list[_Child] = []
        self._stopping = threading.Event()
        self._gave_up: list[ChildGaveUpError] = []
        self._gave_up_event = threading.Event()

    def start(self, spec: ChildSpec) -> subprocess.Popen:
        """Starts a child and waits until it is healthy (StartupError otherwise), then watches it."""
        child = _Child(spec, self.policy)
        self._children.append(child)
        process = child.start(self.policy.start_timeout_s)
        threading.Thread(
            target=self._watch, args=(child, process), name=f"watch-{spec.name}", daemon=True
        ).start()
        return process

    def process(self, name: str) -> subprocess.Popen | None:
        """The running process of the child called `name` (it changes on a restart)."""
        return next((child.process for child in self._children if child.spec.name == name), None)

    def watch(self, poll_s: float = 1.0) -> None:
        """Blocks while the stack runs; raises ChildGaveUpError when a child is given up on."""
        while not self._gave_up_event.wait(poll_s):
            pass
        raise self._gave_up[0]

    def stop(self) -> None:
        self._stopping.set()
        for child in reversed(self._children):
            if child.process is not None:
                stop_server(child.process)
            child.log.close()

    def _watch(self, child: _Child, process: subprocess.Popen) -> None:
        name = child.spec.name
        what_happened = f"exited ({_exit_reason(process.wait())})"
        while not self._stopping.is_set():
            pause = child.failures.record(time.monotonic())
            if pause is None:
                self._give_up(child)
                return
            self._say(
                f"The {name} {what_happened}. Restarting it in {pause:g} s (failure "
                f"{child.failures.count} of {self.policy.max_failures} allowed within {self.policy.window_s:.0f} s)."
            )
            if self._stopping.wait(pause):
                return
            try:
                process = child.start(self.policy.start_timeout_s)
            except StartupError as exc:
                what_happened = f"did not come back ({str(exc).splitlines()[0]})"
                continue
            if self._stopping.is_set():  # stop() came while it was starting
                stop_server(process)
                return
            self._say(f"The {name} is back: {child.spec.health_url.rsplit('/', 1)[0]}")
            what_happened = f"exited ({_exit_reason(process.wait())})"

    def _give_up(self, child: _Child) -> None:
        error = ChildGaveUpError(child.spec, child.failures.count, self.policy.window_s, log_tail(child.log))
        self._say(str(error))
        self._gave_up.append(error)
        self._gave_up_event.set()


def _exit_reason(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"
