"""How long the chat API function takes from a cold start to its first answer, as Lambda starts it.

The function zip and the layer are built by the project's own packaging (`infra.build.packaging`, the
layer for this interpreter as tests/lambdas/test_boot.py builds it) and booted as that test boots
them (tests/lambdas/chat_api_boot.py): the Web Adapter's start (`exec run.sh`), the layer at /opt
in a private mount namespace, nothing of .venv on the path, the environment the Pulumi program
writes, DynamoDB from moto's server. On one CPU (`taskset -c 0`; a small Lambda has less than
one vCPU), and without writing bytecode: Lambda's /var/task and /opt are read-only, so a cold
start compiles every module it imports that the artefacts do not ship compiled (the layer is
copied without any `__pycache__` a test run may have left in it).

Figure: from the process's start to the first byte of an authenticated `GET /models`, polling the
port as the Web Adapter does. The peer is a bare FastAPI app (one `GET /models` route answering a
constant list) booted the same way, from the same layer: the framework's own floor. The two take
turns, run by run. Prints one JSON line of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.build import packaging
from tests.lambdas import lambda_runtime
from tests.lambdas.chat_api_boot import (
    chat_api_settings,
    dev_with_smollm2,
    issue_token,
    layer_and_task,
    start_chat_api,
)
from tests.servers import free_port, moto_server

TARGET_S = 1.0
#: Nothing listens here: GET /models never calls a model.
NO_MODEL_SERVER = "http://127.0.0.1:9"
BARE_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/models")
def models() -> list[dict]:
    return [{"name": "smollm2-135m"}]
"""
#: The bare app, started as run.sh starts ours.
BARE_HANDLER = """#!/bin/sh
cd "$LAMBDA_TASK_ROOT" || exit 1
PYTHONPATH="$LAMBDA_TASK_ROOT:/opt/python:$LAMBDA_RUNTIME_DIR" \\
  exec python -m uvicorn bare_app:app --host 127.0.0.1 --port "$PORT" --no-access-log
"""


def read_all(connection: socket.socket) -> bytes:
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def cpu_s(pid: int) -> float:
    """The CPU time (user + system, all threads) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_byte_s(
    port: int, token: str, started: float, process: subprocess.Popen, timeout_s: float
) -> tuple[float, float]:
    """Poll the port until it accepts, send GET /models, and return the time of the reply's first
    byte since `started`, and the CPU time the function had used by then; the reply must be a 200.
    (The process is the function's Python: unshare, sh and run.sh each exec the next.)"""
    request = (
        f"GET /models HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the function exited with {process.returncode}")
        if time.perf_counter() - started > timeout_s:
            raise RuntimeError(f"no answer within {timeout_s} s")
        try:
            connection = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        except OSError:
            time.sleep(0.002)  # not listening yet: uvicorn binds after the app's start-up
            continue
        with connection:
            connection.sendall(request)
            reply = connection.recv(1)
            elapsed = time.perf_counter() - started
            used = cpu_s(process.pid)
            reply += read_all(connection)
        if not reply.startswith(b"HTTP/1.1 200 "):
            raise RuntimeError(f"GET /models answered {reply[:500]!r}")
        return elapsed, used


def boot_once(
    layer: Path, task_root: Path, settings: dict[str, str], bin_dir: Path, token: str, log_path: Path
) -> tuple[float, float]:
    port = free_port()
    with log_path.open("w+") as log:
        started = time.perf_counter()
        process = start_chat_api(
            layer, task_root, settings | {"PORT": str(port)}, bin_dir, log, prefix=("taskset", "-c", "0")
        )
        try:
            return first_byte_s(port, token, started, process, timeout_s=60)
        except RuntimeError as exc:
            log.seek(0)
            raise SystemExit(f"{exc}\n{log.read()[-3000:]}") from None
        finally:
            process.terminate()
            process.wait(timeout=10)


def clean_copy(source: Path, target: Path) -> Path:
    """`source` without bytecode: what the artefact ships, before anything imported from it."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=True)
    return target


def compile_bytecode(*folders: Path) -> None:
    """Bytecode beside the sources, checked by hash only (a zip's fixed timestamps would fail a
    timestamp check): what the artefacts would hold if the packaging shipped it."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j0", "--invalidation-mode", "unchecked-hash",
         *map(str, folders)],
        check=True,
    )  # fmt: skip


@dataclass
class Artefacts:
    layer: Path
    task_root: Path
    runtime: Path
    bare_root: Path
    bin_dir: Path


def unpacked(tmp: Path, bytecode: bool) -> Artefacts:
    """The function zip, the layer and the runtime's boto3 in a fresh folder, with or without
    bytecode; and the bare app beside them."""
    built_layer, task_root = layer_and_task("chat_api", tmp)
    layer = clean_copy(built_layer, tmp / "layer")
    runtime = clean_copy(lambda_runtime.runtime_dir(), tmp / "runtime")
    bare_root = tmp / "bare"
    (bare_root / "bare_app.py").parent.mkdir(parents=True)
    (bare_root / "bare_app.py").write_text(BARE_APP)
    # At the handler's path, so that it starts as ours does.
    bare_handler = bare_root / packaging.HANDLERS["chat_api"]
    bare_handler.parent.mkdir(parents=True)
    bare_handler.write_text(BARE_HANDLER)
    bare_handler.chmod(0o755)
    if bytecode:
        compile_bytecode(layer, task_root, runtime, bare_root)
    return Artefacts(layer, task_root, runtime, bare_root, lambda_runtime.bare_python(tmp / "bin"))


def measure(artefacts: Artefacts, settings: dict[str, str], token: str, runs: int, tmp: Path) -> dict:
    """Ours and the bare app, taking turns; medians."""
    # Read-only artefacts: no bytecode is written, so every run starts as cold as the first.
    common = {"PYTHONDONTWRITEBYTECODE": "1", "LAMBDA_RUNTIME_DIR": str(artefacts.runtime)}
    times: dict[str, list[tuple[float, float]]] = {"ours": [], "bare": []}
    roots = {"ours": artefacts.task_root, "bare": artefacts.bare_root}
    environments = {"ours": settings | common, "bare": common}
    for index in range(runs):
        for name in ("ours", "bare") if index % 2 == 0 else ("bare", "ours"):
            times[name].append(
                boot_once(
                    artefacts.layer,
                    roots[name],
                    environments[name],
                    artefacts.bin_dir,
                    token,
                    tmp / f"{name}.log",
                )
            )
    ours, bare = (statistics.median(wall for wall, _ in times[name]) for name in ("ours", "bare"))
    ours_cpu, bare_cpu = (statistics.median(cpu for _, cpu in times[name]) for name in ("ours", "bare"))
    return {
        "first_byte_s": round(ours, 3),
        "bare_fastapi_first_byte_s": round(bare, 3),
        "ratio_to_bare": round(ours / bare, 2),
        "target_met": ours <= TARGET_S,
        # CPU time to the first byte: what a busy machine's wall clock hides (a shared CPU
        # stretches the wall time; the work done is the same).
        "cpu_s": round(ours_cpu, 3),
        "bare_fastapi_cpu_s": round(bare_cpu, 3),
        "cpu_ratio_to_bare": round(ours_cpu / bare_cpu, 2),
        "runs_s": [round(wall, 3) for wall, _ in times["ours"]],
        "bare_runs_s": [round(wall, 3) for wall, _ in times["bare"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--bytecode",
        choices=["as-built", "compiled", "both"],
        default="both",
        help="as-built: the artefacts as packaged (no bytecode); compiled: with bytecode added",
    )
    args = parser.parse_args()
    if reason := lambda_runtime.can_mount():
        # `make bench` goes on with the other scripts.
        print(json.dumps({"skipped": f"cannot boot the function as Lambda does here: {reason}"}))
        return
    modes = ["as-built", "compiled"] if args.bytecode == "both" else [args.bytecode]
    figures: dict[str, object] = {"runs": args.runs, "cpus": "taskset -c 0", "target_s": TARGET_S}
    with tempfile.TemporaryDirectory() as folder, moto_server() as moto_url:
        tmp = Path(folder)
        secret = tmp / "local-auth-secret"
        run = dev_with_smollm2(semantic_search={"enabled": False})
        settings = chat_api_settings(run, moto_url, NO_MODEL_SERVER, secret, 0)
        token = issue_token("cold-start", secret)
        for mode in modes:
            artefacts = unpacked(tmp / mode, bytecode=mode == "compiled")
            figures[mode.replace("-", "_")] = measure(artefacts, settings, token, args.runs, tmp)
    figures["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
