"""`python -m chatbot.retrieval`: upload, list, search with the three scores, delete."""

from __future__ import annotations

import re

import pytest

from chatbot.postgres import create_database
from chatbot.retrieval.__main__ import main


@pytest.fixture
def database(monkeypatch, postgres_server_url, embedder):
    monkeypatch.setenv("DATABASE_URL", create_database(postgres_server_url, "cli_tests"))
    for name in ("EMBEDDING_MODEL_SPEC", "RERANK_MODEL_SPEC", "SAGEMAKER_ENDPOINT_URL", "MAX_DOCUMENT_MB"):
        monkeypatch.delenv(name, raising=False)
    # The same model object as the other tests: loading a second one costs seconds.
    monkeypatch.setattr("chatbot.retrieval.service.LocalEmbedder", lambda: embedder)


def test_upload_list_search_and_delete(database, tmp_path, capsys):
    notes = tmp_path / "notes.md"
    notes.write_text("# Garden\n\nWater the tomatoes every evening in July.")

    assert main(["ingest", str(notes), "--user", "ana"]) == 0
    document_id = re.search(r"id ([0-9a-f-]{36})", capsys.readouterr().out).group(1)

    assert main(["list", "--user", "ana"]) == 0
    assert "notes.md" in capsys.readouterr().out

    assert main(["search", "when to water tomatoes", "--user", "ana"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["#", "vector", "text", "fused", "source"]
    assert lines[1].split()[-3:] == ["notes.md,", "chunk", "1"]

    assert main(["delete", document_id, "--user", "ana"]) == 0
    assert main(["list", "--user", "ana"]) == 0
    assert "notes.md" not in capsys.readouterr().out


def test_a_bad_file_is_an_error_message_and_exit_status_1(database, tmp_path, capsys):
    fake = tmp_path / "photo.txt"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert main(["ingest", str(fake), "--user", "ana"]) == 1
    assert "error: 'photo.txt' is named as text but is a PNG image" in capsys.readouterr().err


def test_deleting_someone_elses_document_is_refused(database, capsys):
    assert main(["delete", "00000000-0000-0000-0000-000000000000", "--user", "ana"]) == 1
    assert "No document" in capsys.readouterr().err
