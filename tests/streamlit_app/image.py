"""The web app's image as its Dockerfile builds it, without a Docker daemon: the files its COPY
lines take from the project, laid out where they land, and a venv that holds only its
requirements (streamlit_app/requirements.txt under constraints.txt, as its build stage installs)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.servers import ROOT

DOCKERFILE = (ROOT / "streamlit_app" / "Dockerfile").read_text()
REQUIREMENTS = ROOT / "streamlit_app" / "requirements.txt"
CONSTRAINTS = ROOT / "constraints.txt"


def copied_files() -> list[tuple[str, str]]:
    """(source, destination) of every COPY from the build context (not from the build stage)."""
    pairs = []
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            *sources, destination = line.split()[1:]
            pairs += [(source, destination) for source in sources]
    return pairs


def lay_out_app_files(target: Path) -> Path:
    """The files the final stage copies into its WORKDIR (the build stage's requirements aside)."""
    for source, destination in copied_files():
        if source in ("streamlit_app/requirements.txt", "constraints.txt"):
            continue
        if (ROOT / source).is_dir():
            shutil.copytree(
                ROOT / source,
                target / destination.rstrip("/"),
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            landed = (
                target / destination / Path(source).name
                if destination.endswith("/")
                else target / destination
            )
            landed.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / source, landed)
    return target


def requirements_only_venv() -> Path:
    """A venv with the image's requirements and nothing else, made once per set of pins (kept in
    the temporary folder, so later runs on this machine reuse it); returns its python."""
    pins = hashlib.sha256(REQUIREMENTS.read_bytes() + CONSTRAINTS.read_bytes()).hexdigest()[:16]
    venv = Path(tempfile.gettempdir()) / f"chatbot-web-image-venv-{pins}"
    python = venv / "bin" / "python"
    if (venv / "complete").exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)  # a half-made one too
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)],
        check=True,
        timeout=900,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    (venv / "complete").touch()
    return python
