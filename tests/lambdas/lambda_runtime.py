"""Run a function as Lambda does, from its artefacts, on this machine.

- The function zip is unpacked into a task root with its Unix modes (as Lambda keeps them).
- The layer is built for this machine's interpreter from the same requirements as the Lambda one
  (`infra.build.packaging.HOST`), and appears at /opt through a bind mount in a private mount namespace
  (`unshare -m`, as root): `/opt/python` is where Lambda puts a layer's `python/`.
- The runtime's own boto3 stands in $LAMBDA_RUNTIME_DIR (the layers leave it out, as on Lambda).
- `python` is this interpreter without its site-packages (`-S`): nothing of .venv is on the path,
  only the standard library, the task root, the layer and the runtime directory.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

from infra.build import packaging
from infra.config import PROJECT_ROOT

#: What the python3.12 runtime ships in /var/runtime, at the project's pins.
RUNTIME_REQUIREMENTS = ["boto3==1.44.5", "botocore==1.44.5"]


def unpack(zip_path: Path, task_root: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            target = task_root / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)
    return task_root


def runtime_dir() -> Path:
    """boto3 and botocore for this interpreter: the stand-in for /var/runtime (built once)."""
    target = packaging.Target(packaging.HOST.name + "-runtime", (), ())
    folder = PROJECT_ROOT / packaging.BUILD_DIR / target.name
    if not (folder / ".complete").exists():
        packaging.pip_install(PROJECT_ROOT, RUNTIME_REQUIREMENTS, folder / "python", target)
        (folder / ".complete").write_text("\n".join(RUNTIME_REQUIREMENTS) + "\n")
    return folder / "python"


def bare_python(bin_dir: Path) -> Path:
    """A `python` on PATH that sees the standard library only (plus PYTHONPATH)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    python = bin_dir / "python"
    base = getattr(sys, "_base_executable", sys.executable)
    python.write_text(f'#!/bin/sh\nexec "{base}" -S "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bin_dir


def lambda_environment(
    task_root: Path, handler: str, bin_dir: Path, settings: dict[str, str]
) -> dict[str, str]:
    """What Lambda's runtime sets, then the function's own environment (the program's settings)."""
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir()),
        "_HANDLER": handler,
        "HOME": str(task_root.parent),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        **settings,
    }


def in_lambda_mounts(layer_dir: Path, command: str) -> list[str]:
    """`command` (a shell line) in a private mount namespace where /opt is the layer."""
    return ["unshare", "-m", "sh", "-c", f'mount --bind "{layer_dir}" /opt && {command}']


def can_mount() -> str | None:
    """None when a private mount namespace works here, else why not."""
    if os.geteuid() != 0:
        return "a private mount namespace (unshare -m, bind mount /opt) needs root"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount --bind / /mnt"], capture_output=True, text=True
    )
    return (
        None if probe.returncode == 0 else f"unshare -m / mount --bind refused here: {probe.stderr.strip()}"
    )
