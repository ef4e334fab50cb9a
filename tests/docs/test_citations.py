"""Citations that resolve: every project file a comment, docstring or document names exists, and
the reference facts the code cites live in the repository (docs/REFERENCE.md)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.servers import ROOT

#: A path into the project: a top-level folder, then a file with a suffix people cite.
CITED_PATH = re.compile(
    r"(?<![\w/.-])((?:chatbot|lambdas|streamlit_app|infra|inference|launcher|benchmarks|tests|docs)"
    r"/[\w/.-]*\w\.(?:py|md|txt|toml|yaml|sh|json))\b"
)
#: A document named bare (no folder), such as REFERENCE.md: it must be one of the project's.
BARE_DOCUMENT = re.compile(r"(?<![\w/.-])([A-Z][A-Z_]+\.md)\b")
#: Where citations are written (the reference facts themselves describe other projects' files).
CITING = ("*.py", "*.md", "Makefile", "*Dockerfile", "*.toml", "*.sh", "*.yaml")


def tracked_files(*, with_reference: bool = False) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--", *CITING], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    skipped = set() if with_reference else {"docs/REFERENCE.md"}
    return [name for name in listed if name not in skipped and (ROOT / name).is_file()]


def test_every_cited_project_file_exists():
    stale = [
        f"{name}: {cited}"
        for name in tracked_files()
        for cited in CITED_PATH.findall((ROOT / name).read_text(errors="replace"))
        if not (ROOT / cited).exists() and not (ROOT / name).parent.joinpath(cited).exists()
    ]
    assert stale == []


def test_every_document_named_bare_is_one_of_the_projects():
    documents = {Path(name).name for name in tracked_files(with_reference=True)}
    stale = [
        f"{name}: {cited}"
        for name in tracked_files()
        for cited in BARE_DOCUMENT.findall((ROOT / name).read_text(errors="replace"))
        if cited not in documents
    ]
    assert stale == []


def test_the_reference_facts_the_code_cites_are_in_the_repository():
    citing = [name for name in tracked_files() if "REFERENCE.md" in (ROOT / name).read_text(errors="replace")]
    assert citing, "nothing cites the reference facts any more: drop this test"
    assert (ROOT / "docs" / "REFERENCE.md").is_file()
