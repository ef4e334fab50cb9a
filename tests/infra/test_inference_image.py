"""The inference image is tagged by its content: the repository is immutable, so a fixed tag
could be pushed once only, and every later `pulumi up` with a changed server would be refused."""

from __future__ import annotations

import shutil
from pathlib import Path

from infra.build.inference_image import IMAGE_SOURCES, content_tag
from infra.checks.offline import OfflineRun
from infra.config import PROJECT_ROOT
from tests.infra.support import one


def test_the_image_tag_is_the_content_hash_in_an_immutable_repository(all_kinds: OfflineRun):
    dev = all_kinds  # dev chats with Bedrock: the cpu-llamacpp option brings the image
    repository = one(dev.graph, "aws:ecr/repository:Repository", "inference-repo")
    image = one(dev.graph, "awsx:ecr:Image", "inference-image")
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert image.inputs["imageTag"] == content_tag(PROJECT_ROOT)


def test_a_changed_source_file_changes_the_tag(tmp_path: Path):
    for source in IMAGE_SOURCES:
        target = tmp_path / source
        target.parent.mkdir(parents=True, exist_ok=True)
        if (PROJECT_ROOT / source).is_dir():
            shutil.copytree(
                PROJECT_ROOT / source,
                target,
                ignore=shutil.ignore_patterns("__pycache__"),
                dirs_exist_ok=True,
            )
        else:
            shutil.copyfile(PROJECT_ROOT / source, target)
    before = content_tag(tmp_path)
    assert before == content_tag(PROJECT_ROOT)
    (tmp_path / "inference" / "app.py").write_text("# changed\n")
    assert content_tag(tmp_path) != before
