"""The custom-script embeddings model installs a set of packages that works with the torch inside
its container image. pip resolves `code/requirements.txt` against that image's torch, for its
Python and platform (as the Hugging Face inference toolkit does at start-up). The report is
cached under .data/ by the requirements' hash, so a second run needs no network."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra import regional
from infra.config import PROJECT_ROOT

CODE = PROJECT_ROOT / "infra" / "model_code" / "sentence_embeddings"
CACHE = PROJECT_ROOT / ".data" / "resolutions"


def image_versions() -> dict[str, str]:
    """torch, transformers and Python of the pinned hf-pytorch-cpu image, read from its tag
    (`2.1.0-transformers4.37.0-cpu-py310-ubuntu22.04`)."""
    tag = next(iter(regional.IMAGE_FAMILIES["hf-pytorch-cpu"].tags.values()))
    match = re.match(
        r"(?P<torch>[\d.]+)-transformers(?P<transformers>[\d.]+)-cpu-py(?P<py>\d)(?P<minor>\d+)", tag
    )
    assert match, tag
    return {
        "torch": match["torch"],
        "transformers": match["transformers"],
        "python": f"{match['py']}.{match['minor']}",
    }


def resolve(requirements: Path, versions: dict[str, str]) -> dict[str, str]:
    key = hashlib.sha256((requirements.read_text() + json.dumps(versions)).encode()).hexdigest()[:16]
    report = CACHE / f"{key}.json"
    if not report.exists():
        report.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                "--report", str(report), "--only-binary=:all:",
                "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
                "--python-version", versions["python"], "--implementation", "cp",
                "-r", str(requirements), f"torch=={versions['torch']}",
            ],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            report.unlink(missing_ok=True)
            pytest.fail(
                f"pip cannot resolve {requirements} next to torch {versions['torch']}:\n{result.stderr}"
            )
    installs = json.loads(report.read_text())["install"]
    return {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in installs}


def test_the_embeddings_code_resolves_next_to_the_images_torch():
    versions = image_versions()
    resolved = resolve(CODE / "requirements.txt", versions)
    assert resolved["torch"] == versions["torch"], "the requirements must not replace the image's torch"
    # transformers releases after the image's disable PyTorch below 2.2 ("Disabling PyTorch").
    assert resolved["transformers"] == versions["transformers"]
    # torch 2.1 was built against numpy 1.x.
    assert int(resolved["numpy"].split(".")[0]) < 2
    assert "sentence-transformers" in resolved
