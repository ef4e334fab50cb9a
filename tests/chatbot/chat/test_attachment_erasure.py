"""Deleting the files a user attached to chat turns (issue 21, "Leaving"), in either blob store:
every file of theirs, with its text and metadata, and none of anyone else's."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.chat.attachments import AttachmentNotFoundError, Attachments, Blobs, LocalBlobs


def test_a_users_attachments_go_and_a_user_whose_name_starts_the_same_keeps_theirs(blobs: Blobs):
    attachments = Attachments(blobs, max_bytes=64 * 1024)
    als = [attachments.upload("al", f"note{i}.txt", b"A note.") for i in range(2)]
    alices = attachments.upload("alice", "plan.txt", b"A plan.")

    report = attachments.erase_user("al")

    assert (report.attachments, report.files) == (2, 6)  # each: the file, its text, its metadata
    for ref in als:
        with pytest.raises(AttachmentNotFoundError):
            attachments.get("al", ref.id)
    assert attachments.get("alice", alices.id) == alices
    assert attachments.erase_user("al").total() == 0


def test_a_key_that_climbs_out_of_the_local_store_deletes_nothing(tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text("not the store's")
    blobs = LocalBlobs(tmp_path / "attachments")

    assert blobs.delete("../outside.txt") is False
    assert blobs.delete_folder("..") == []
    assert outside.read_text() == "not the store's"
