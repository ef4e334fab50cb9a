"""The custom-script embeddings model installs a set of packages that works with the torch inside
its container image. pip resolves `code/requirements.txt` against that image's torch, for its
Python and platform (as the Hugging Face inference toolkit does at start-up). The report is
cached under .data/ by the requirements' hash, so a second run needs no network."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from infra.components import regional
from infra.config import PROJECT_ROOT

CODE = PROJECT_ROOT / "runtime" / "sagemaker" / "sentence_embeddings"
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


def torch_closure(report: dict) -> set[str]:
    """torch and every package only it pulls in (the image has them all)."""
    items = {
        item["metadata"]["name"].lower().replace("_", "-"): item["metadata"] for item in report["install"]
    }
    closure: set[str] = set()
    pending = ["torch"]
    while pending:
        name = pending.pop()
        if name in closure:
            continue
        closure.add(name)
        for requirement in items[name].get("requires_dist") or []:
            if "extra ==" in requirement:
                continue
            dependency = re.split(r"[ <>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")
            if dependency in items:
                pending.append(dependency)
    return closure


def lock_pins() -> dict[str, str]:
    lines = (CODE / "requirements.lock").read_text().splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {name.lower().replace("_", "-"): version for name, version in pins}


def test_the_lock_is_the_resolution_without_what_the_image_brings():
    """What CodeBuild bakes into code/lib: requirements.txt resolved next to the image's torch,
    less torch and its own dependencies (a changed requirements.txt fails here until the lock is
    regenerated from the report under .data/resolutions)."""
    versions = image_versions()
    resolved = {name.replace("_", "-"): v for name, v in resolve(CODE / "requirements.txt", versions).items()}
    key = hashlib.sha256(
        ((CODE / "requirements.txt").read_text() + json.dumps(versions)).encode()
    ).hexdigest()[:16]
    report = json.loads((CACHE / f"{key}.json").read_text())
    expected = {name: version for name, version in resolved.items() if name not in torch_closure(report)}
    assert lock_pins() == expected
    assert "torch" not in lock_pins()
    assert not any(name.startswith("nvidia-") for name in lock_pins())


def test_the_build_bakes_the_dependencies_in_and_leaves_nothing_to_install_at_start(tmp_path: Path):
    """The buildspec's build commands, run here as CodeBuild runs them (bash, the real pip for the
    image's Python and platform), with stand-ins only for the model download and the S3 upload."""
    from infra.models.custom import BUILDSPEC, UNUSED_WEIGHTS, image_python_version

    bin_dir, model, source = tmp_path / "bin", tmp_path / "model", tmp_path / "source"
    bin_dir.mkdir()
    shutil.copytree(CODE, source, ignore=shutil.ignore_patterns("__pycache__"))
    (bin_dir / "huggingface-cli").write_text(
        '#!/bin/bash\necho "$@" > "$STUB_LOG/download"\nmkdir -p /tmp/model && touch /tmp/model/config.json\n'
    )
    (bin_dir / "aws").write_text('#!/bin/bash\ncp "$3" "$STUB_LOG/uploaded.tar.gz"\n')
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    commands = yaml.safe_load(BUILDSPEC)["phases"]["build"]["commands"]
    script = "set -euo pipefail\n" + "\n".join(commands).replace("/tmp/model", str(model))
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        "STUB_LOG": str(tmp_path),
        "CODEBUILD_SRC_DIR": str(source),
        "HF_MODEL_ID": "sentence-transformers/all-MiniLM-L6-v2",
        "ARTIFACT_URI": "s3://bucket/artifacts/model.tar.gz",
        "IMAGE_PYTHON_VERSION": image_python_version("hf-pytorch-cpu", None),
    }
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    download = (tmp_path / "download").read_text()
    for pattern in UNUSED_WEIGHTS:
        assert pattern in download
    assert "*.ot" in UNUSED_WEIGHTS, "rust_model.ot (Rust's weights) was shipped in every artefact"
    with tarfile.open(tmp_path / "uploaded.tar.gz") as artefact:
        names = set(artefact.getnames())
    assert "./code/inference.py" in names
    assert "./code/requirements.txt" not in names, "the inference toolkit would pip-install it at start-up"
    assert "./code/lib/sentence_transformers/__init__.py" in names
    assert not any(name.startswith("./code/lib/torch/") for name in names), "the image's torch is used"
    assert any(name.startswith("./code/lib/numpy/") and "cpython-310" in name for name in names)
