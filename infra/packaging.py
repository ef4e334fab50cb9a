"""Lambda code and dependency archives.

A function's zip holds `chatbot/` and its own `lambdas/<function>/` folder; its dependencies go in a
layer built for the Lambda platform (manylinux x86_64, Python 3.12) by
`python -m infra.packaging <function>`, which pip-installs `lambdas/<function>/requirements.txt`
into `.data/lambda-layers/<function>/python` (Lambda puts a layer's python/ on sys.path).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pulumi

from chatbot.errors import ConfigError

LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = "manylinux2014_x86_64"
LAYERS_DIR = Path(".data") / "lambda-layers"


@dataclass(frozen=True)
class LambdaCode:
    code: pulumi.Archive
    #: None when the layer has not been built (allowed only in offline runs).
    dependencies: pulumi.Archive | None
    handler: str
    #: Paths the archives would contain but that do not exist (yet): reported by the offline plan.
    missing: tuple[str, ...]


def lambda_code(project_root: Path, function: str, handler: str, *, require_built: bool) -> LambdaCode:
    """The archives for `lambdas/<function>`. With require_built (a real deployment) a missing
    folder or unbuilt layer fails now, with the command that fixes it."""
    function_dir = Path("lambdas") / function
    layer_dir = LAYERS_DIR / function
    parts = {
        "chatbot": pulumi.FileArchive(str(project_root / "chatbot")),
        str(function_dir): pulumi.FileArchive(str(project_root / function_dir)),
    }
    for package_init in ("lambdas/__init__.py",):
        if (project_root / package_init).exists():
            parts[package_init] = pulumi.FileAsset(str(project_root / package_init))
    missing = [str(function_dir)] if not (project_root / function_dir).is_dir() else []
    if not (project_root / layer_dir / "python").is_dir():
        missing.append(str(layer_dir / "python"))
    if require_built and missing:
        raise ConfigError(
            f"Lambda {function}: {', '.join(missing)} not found. Build the dependency layer with "
            f"`python -m infra.packaging {function}` before `pulumi up`."
        )
    existing = {key: value for key, value in parts.items() if (project_root / key).exists()}
    dependencies = (
        None if str(layer_dir / "python") in missing else pulumi.FileArchive(str(project_root / layer_dir))
    )
    return LambdaCode(pulumi.AssetArchive(existing), dependencies, handler, tuple(missing))


def pip_command(project_root: Path, function: str) -> list[str]:
    """pip, asked for wheels that run on Lambda rather than on this machine."""
    return [
        sys.executable, "-m", "pip", "install", "--quiet",
        "--platform", LAMBDA_PLATFORM, "--implementation", "cp", "--python-version", LAMBDA_PYTHON,
        "--only-binary=:all:", "--upgrade",
        "--target", str(project_root / LAYERS_DIR / function / "python"),
        "-r", str(project_root / "lambdas" / function / "requirements.txt"),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build a Lambda dependency layer for the Lambda platform.")
    parser.add_argument("function", help="a folder under lambdas/, e.g. chat_api")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    requirements = root / "lambdas" / args.function / "requirements.txt"
    if not requirements.exists():
        print(f"error: {requirements} not found", file=sys.stderr)
        return 2
    return subprocess.run(pip_command(root, args.function), check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
