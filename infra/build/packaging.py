"""Lambda artefacts, built as files: `python -m infra.packaging <function>`.

For `lambdas/<function>` it writes, under `.data/lambda/<function>/`:

- `function.zip`: `chatbot/` and `lambdas/<function>/`, built here (not by Pulumi, which re-zips a
  folder without Unix modes, pulumi/pulumi#3593) so that `run.sh` keeps mode 0755;
- `layer.zip`: `python/` with the function's requirements, pip-installed for the Lambda platform
  (Python 3.12 on Amazon Linux 2023, glibc 2.34: manylinux2014, 2_28 and 2_34 wheels), without
  what the runtime already has (boto3, botocore and their own dependencies), and `rds-ca/` with the
  RDS certificate authorities (infra/build/certs: `/opt/rds-ca/global-bundle.pem`, what the database
  connections verify the server against).

The layer is uploaded through S3 (PublishLayerVersion takes at most 50 MB inline). Layer folders
are cached by the hash of their requirements and target, so a second build reuses the first.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pulumi

from chatbot.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(".data") / "lambda"
#: pip's own download cache, kept with the builds so that rebuilding needs no network.
PIP_CACHE = Path(".data") / "pip-cache"
#: The RDS certificate authorities (infra/build/certs/PROVENANCE.md), and where a layer holds them:
#: Lambda mounts layers at /opt, so chatbot.postgres.RDS_CA_BUNDLE is this path under it.
RDS_CA_SOURCE = PROJECT_ROOT / "infra" / "build" / "certs" / "rds-ca-bundle.pem"
RDS_CA_IN_LAYER = Path("rds-ca") / "global-bundle.pem"
#: Every transitive package at the project's version: layers hold the versions the tests ran.
CONSTRAINTS = Path("constraints.txt")
#: Distributions the python3.12 runtime provides (in $LAMBDA_RUNTIME_DIR): left out of layers.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath")
#: Files a layer does not need at run time.
TRIMMED = ("__pycache__", "*.pyc", "*.pyi", "tests")
#: Lambda's limits (docs/REFERENCE.md): a layer inline in PublishLayerVersion; function plus layers unzipped.
INLINE_UPLOAD_LIMIT = 50 * 1024 * 1024
UNZIPPED_LIMIT = 250 * 1024 * 1024
#: An allowance for the Lambda Web Adapter layer (the chat API's other layer; about 6 MB unzipped).
WEB_ADAPTER_ALLOWANCE = 12 * 1024 * 1024
#: Files in a function zip that Lambda (or the Web Adapter) executes directly.
EXECUTABLES = ("run.sh",)
#: Handlers, as Lambda finds them in the function zip.
HANDLERS = {
    # The Web Adapter runs `exec "$LAMBDA_TASK_ROOT/$_HANDLER"`: a script, not a Python function.
    "chat_api": "lambdas/chat_api/run.sh",
    "document_indexer": "lambdas.document_indexer.handler.handler",
    "sso_groups": "lambdas.sso_groups.handler.handler",
}
#: Functions of the standard library alone: their zip holds only `lambdas/<function>/` (not
#: `chatbot/`), and they have no requirements.txt and no dependency layer.
STANDALONE = ("sso_groups",)
#: A fixed timestamp for every zip entry: the same sources give the same bytes (and S3 key).
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Target:
    """Where a layer runs: Lambda's platform, or this machine's interpreter (to boot it in tests)."""

    name: str
    pip_args: tuple[str, ...]
    #: Leave out what the target's runtime provides.
    leave_out: tuple[str, ...]


LAMBDA = Target(
    "lambda-py312",
    (
        "--platform", "manylinux2014_x86_64",
        "--platform", "manylinux_2_28_x86_64",
        "--platform", "manylinux_2_34_x86_64",
        "--implementation", "cp", "--python-version", "3.12", "--abi", "cp312",
    ),
    RUNTIME_PROVIDED,
)  # fmt: skip
#: This interpreter, for booting the function here; the runtime's boto3 comes from RUNTIME_HOST.
HOST = Target(f"host-py{sys.version_info.major}{sys.version_info.minor}", (), RUNTIME_PROVIDED)


@dataclass(frozen=True)
class Artifacts:
    function_zip: Path
    layer_zip: Path
    #: The unzipped layer: the folder that holds `python/` (what Lambda mounts at /opt).
    layer_dir: Path

    def sizes(self) -> dict[str, int]:
        return {
            "function_zip": self.function_zip.stat().st_size,
            "layer_zip": self.layer_zip.stat().st_size,
            "layer_unzipped": folder_size(self.layer_dir),
            "function_unzipped": unzipped_size(self.function_zip),
        }


def function_dir(root: Path, function: str) -> Path:
    return root / "lambdas" / function


def build_dir(root: Path, function: str) -> Path:
    return root / BUILD_DIR / function


def layer_requirements(root: Path, function: str, leave_out: tuple[str, ...] = RUNTIME_PROVIDED) -> list[str]:
    """The function's pinned requirements, less what the runtime provides."""
    path = function_dir(root, function) / "requirements.txt"
    if not path.exists():
        raise ConfigError(f"{path} not found: a Lambda function lists its dependencies there")
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and _distribution(line) not in leave_out]


def _distribution(requirement: str) -> str:
    name = requirement.split(";")[0]
    for separator in ("==", ">=", "<=", "~=", "!=", "<", ">", "["):
        name = name.split(separator)[0]
    return name.strip().lower().replace("_", "-")


def build_layer(root: Path, function: str, target: Target = LAMBDA) -> Path:
    """pip-install the layer into `.data/lambda/<function>/<target>-<hash>/python`; returns the
    folder above `python/`. Reused when it exists: the hash covers requirements and target."""
    requirements = layer_requirements(root, function, target.leave_out)
    constraints = (root / CONSTRAINTS).read_text()
    bundle = file_hash(RDS_CA_SOURCE)
    key = hashlib.sha256(
        "\n".join([*requirements, *target.pip_args, constraints, bundle]).encode()
    ).hexdigest()[:12]
    layer = build_dir(root, function) / f"{target.name}-{key}"
    if (layer / ".complete").exists():
        return layer
    shutil.rmtree(layer, ignore_errors=True)
    pip_install(root, requirements, layer / "python", target)
    for name in target.leave_out:  # pulled in by another requirement: the runtime has it
        remove_distribution(layer / "python", name)
    trim(layer / "python")
    add_rds_certificates(layer)
    (layer / ".complete").write_text("\n".join(requirements) + "\n")
    return layer


def add_rds_certificates(layer: Path) -> Path:
    """Put the RDS certificate authorities in the layer folder (beside `python/`)."""
    target = layer / RDS_CA_IN_LAYER
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(RDS_CA_SOURCE, target)
    return target


def pip_install(root: Path, requirements: list[str], into: Path, target: Target) -> None:
    into.mkdir(parents=True, exist_ok=True)
    requirements_file = into.parent / ".requirements.txt"
    requirements_file.write_text("\n".join(requirements) + "\n")
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        *target.pip_args, "--only-binary=:all:", "--no-compile", "--upgrade",
        "--cache-dir", str(root / PIP_CACHE),
        "--target", str(into), "-r", str(requirements_file), "-c", str(root / CONSTRAINTS),
    ]  # fmt: skip
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise ConfigError(f"pip could not build the layer in {into}:\n{result.stderr.strip()}")


def remove_distribution(site: Path, name: str) -> None:
    """Delete an installed distribution (its files per RECORD, then its metadata folder)."""
    normalized = name.lower().replace("-", "_")
    for info in site.glob("*.dist-info"):
        if info.name.split("-")[0].lower().replace("-", "_") != normalized:
            continue
        record = info / "RECORD"
        if record.exists():
            for line in record.read_text().splitlines():
                path = site / line.split(",")[0]
                if path.is_file() and info not in path.parents:
                    path.unlink()
        shutil.rmtree(info)
    for folder in [site / normalized, site / f"{normalized}.libs"]:
        shutil.rmtree(folder, ignore_errors=True)


def trim(site: Path) -> None:
    for pattern in TRIMMED:
        for path in sorted(site.rglob(pattern), reverse=True):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()


def zip_folder(folder: Path, zip_path: Path, *, prefix: str = "") -> Path:
    """A deterministic zip of `folder` (sorted entries, fixed timestamps, Unix modes kept)."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                _add(archive, path, f"{prefix}{path.relative_to(folder).as_posix()}")
    return zip_path


def _add(archive: zipfile.ZipFile, path: Path, name: str, mode: int | None = None) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.external_attr = (0o100000 | (mode if mode is not None else path.stat().st_mode & 0o777)) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, path.read_bytes())


def build_function_zip(root: Path, function: str) -> Path:
    """`chatbot/` and `lambdas/<function>/` (sources only), with executables at 0755."""
    if not function_dir(root, function).is_dir():
        raise ConfigError(f"lambdas/{function} not found under {root}")
    zip_path = build_dir(root, function) / "function.zip"
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    files = [root / "lambdas" / "__init__.py"]
    folders = (
        [function_dir(root, function)]
        if function in STANDALONE
        else [root / "chatbot", function_dir(root, function)]
    )
    for folder in folders:
        files += [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(files):
            if path.name == "requirements.txt" or path.suffix == ".pyc":
                continue  # the layer's business
            mode = 0o755 if path.name in EXECUTABLES else 0o644
            _add(archive, path, path.relative_to(root).as_posix(), mode)
    return zip_path


def build(root: Path, function: str) -> Artifacts:
    """Both artefacts for the Lambda platform (a STANDALONE function has no layer: use
    build_function_zip)."""
    function_zip = build_function_zip(root, function)
    layer = build_layer(root, function, LAMBDA)
    layer_zip = layer.with_suffix(".zip")
    if not layer_zip.exists():
        zip_folder(layer, layer_zip)
    shutil.copyfile(layer_zip, build_dir(root, function) / "layer.zip")
    return Artifacts(function_zip, build_dir(root, function) / "layer.zip", layer)


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def unzipped_size(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as archive:
        return sum(info.file_size for info in archive.infolist())


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


# --- what the Pulumi program deploys ---------------------------------------------------------


@dataclass(frozen=True)
class LambdaCode:
    #: The function zip built here (Pulumi copies a .zip FileArchive byte for byte).
    code: pulumi.Archive
    #: The layer zip, uploaded to S3 under `layer_key`; a placeholder when unbuilt (offline only).
    layer: pulumi.Asset
    layer_key: str
    handler: str
    #: Artefacts not built yet: reported by the offline plan.
    missing: tuple[str, ...]


@dataclass(frozen=True)
class StandaloneCode:
    """A STANDALONE function's zip (no layer)."""

    code: pulumi.Archive
    handler: str


def standalone_code(project_root: Path, function: str) -> StandaloneCode:
    """The zip of a STANDALONE function, (re)built now from the sources."""
    if function not in STANDALONE:
        raise ConfigError(f"Lambda {function} has a dependency layer: use lambda_code")
    code = build_function_zip(project_root, function)
    return StandaloneCode(pulumi.FileArchive(str(code)), HANDLERS[function])


def lambda_code(project_root: Path, function: str, *, require_built: bool) -> LambdaCode:
    """The artefacts for `lambdas/<function>`. The function zip is (re)built now, from the sources;
    the layer must have been built by `python -m infra.packaging <function>`. With require_built
    (a real deployment) a missing layer fails now, with the command that fixes it."""
    code = build_function_zip(project_root, function)
    layer_zip = build_dir(project_root, function) / "layer.zip"
    if layer_zip.exists():
        layer: pulumi.Asset = pulumi.FileAsset(str(layer_zip))
        missing: tuple[str, ...] = ()
        key = f"layers/{function}/{file_hash(layer_zip)}.zip"
    else:
        if require_built:
            raise ConfigError(
                f"Lambda {function}: {os.path.relpath(layer_zip, project_root)} not found. Build it with "
                f"`python -m infra.packaging {function}` before `pulumi up`."
            )
        layer = pulumi.StringAsset(f"not built: python -m infra.packaging {function}")
        missing = (os.path.relpath(layer_zip, project_root),)
        key = f"layers/{function}/unbuilt.zip"
    return LambdaCode(pulumi.FileArchive(str(code)), layer, key, HANDLERS[function], missing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build a Lambda function's zip and dependency layer.")
    parser.add_argument("function", choices=sorted(HANDLERS), help="a folder under lambdas/")
    args = parser.parse_args(argv)
    mb = 1024 * 1024
    if args.function in STANDALONE:
        try:
            zip_path = build_function_zip(PROJECT_ROOT, args.function)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        size = zip_path.stat().st_size
        print(
            f"{zip_path.relative_to(PROJECT_ROOT)}: {size / mb:.3f} MB zipped (standard library only: no layer)"
        )
        return 0
    try:
        artifacts = build(PROJECT_ROOT, args.function)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sizes = artifacts.sizes()
    print(f"{artifacts.function_zip.relative_to(PROJECT_ROOT)}: {sizes['function_zip'] / mb:.1f} MB")
    print(
        f"{artifacts.layer_zip.relative_to(PROJECT_ROOT)}: {sizes['layer_zip'] / mb:.1f} MB zipped, "
        f"{sizes['layer_unzipped'] / mb:.1f} MB unzipped (uploaded through S3)"
    )
    total = sizes["layer_unzipped"] + sizes["function_unzipped"] + WEB_ADAPTER_ALLOWANCE
    if total > UNZIPPED_LIMIT:
        print(
            f"error: {total / mb:.0f} MB unzipped with the Web Adapter: over Lambda's 250 MB", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
