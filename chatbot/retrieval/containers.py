"""Limits on what a container format (a .docx's ZIP, a PDF's compressed streams) may unpack to.

A small upload can unpack to gigabytes: a ZIP entry of zeros deflates about 1000:1, and a
.docx reader loads every part (images included) into memory. So every entry of a ZIP is
checked from its central directory, before anything is inflated; a PDF's page contents are
counted as they are decoded, and reading stops at the budget.

Python's zipfile never inflates an entry past the size its central directory declares (it
stops there and checks the CRC), so declared sizes are a bound that a forged header cannot
lift, and checking them is checking what will be read.
"""

from __future__ import annotations

import io
import zipfile

from chatbot.retrieval.errors import CorruptDocumentError, DocumentTooLargeError
from chatbot.retrieval.settings import MB

#: Everything a container may unpack to, all entries together: far beyond a real document.
MAX_UNPACKED_BYTES = 100 * MB
#: Entries in one ZIP: a large .docx with many images has a few hundred parts.
MAX_ZIP_ENTRIES = 5_000
#: Uncompressed / compressed size of one entry. Text markup compresses 5-20:1; a run of zeros
#: (a bomb) about 1000:1.
MAX_COMPRESSION_RATIO = 100
#: Entries up to this size are not held to the ratio: small, repetitive XML parts can exceed
#: it, and cannot hurt. Kept small: a reader parses every markup part, and many parts of just
#: under an exemption add up (30 headers of 1 MB each made a .docx of 88 KB that cost 655 MB).
RATIO_EXEMPT_BYTES = 64 * 1024
#: Markup (.xml, .rels) a reader parses into trees, all parts together: python-docx loads every
#: header, footer and style part at open, at about 20 times its size in memory. 10 MB of
#: WordprocessingML is thousands of pages.
MAX_MARKUP_BYTES = 10 * MB
MARKUP_SUFFIXES = (".xml", ".rels")


def refuse_zip_bomb(filename: str, data: bytes, kind: str = ".docx") -> None:
    """Refuse a ZIP whose entries, all of them, would unpack to too much. Reads only the
    central directory: nothing is inflated."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise CorruptDocumentError(
            f"{filename!r} is not a readable {kind} file ({exc}). Open it in a word processor, save it "
            f"as {kind}, and upload it again."
        ) from exc
    if len(entries) > MAX_ZIP_ENTRIES:
        raise DocumentTooLargeError(
            f"{filename!r} holds {len(entries)} parts; the limit is {MAX_ZIP_ENTRIES}. "
            "Split the document into smaller files."
        )
    total = sum(entry.file_size for entry in entries)
    if total > MAX_UNPACKED_BYTES:
        raise DocumentTooLargeError(
            f"{filename!r} unpacks to {total // MB} MB; the limit is {MAX_UNPACKED_BYTES // MB} MB "
            "(images included). Split the document into smaller files, or make its images smaller."
        )
    markup = sum(entry.file_size for entry in entries if entry.filename.lower().endswith(MARKUP_SUFFIXES))
    if markup > MAX_MARKUP_BYTES:
        raise DocumentTooLargeError(
            f"{filename!r} holds {markup // MB} MB of markup; the limit is {MAX_MARKUP_BYTES // MB} MB. "
            "Split the document into smaller files."
        )
    for entry in entries:
        if entry.file_size <= RATIO_EXEMPT_BYTES:
            continue
        if entry.file_size > MAX_COMPRESSION_RATIO * max(entry.compress_size, 1):
            raise DocumentTooLargeError(
                f"{filename!r} has a part ({entry.filename!r}) that unpacks {entry.file_size // 1024} KB from "
                f"{entry.compress_size} bytes, more than {MAX_COMPRESSION_RATIO} times its size: that is "
                "a ZIP bomb, not a document. Save the document again from a word processor."
            )

    # Many parts, each under the exemption, can still add up to a bomb: the whole file too.
    if total > RATIO_EXEMPT_BYTES and total > MAX_COMPRESSION_RATIO * len(data):
        raise DocumentTooLargeError(
            f"{filename!r} unpacks to {total // 1024} KB from {len(data) // 1024} KB, more than "
            f"{MAX_COMPRESSION_RATIO} times its size: that is a ZIP bomb, not a document. Save the "
            "document again from a word processor."
        )


class UnpackBudget:
    """Bytes decoded so far from one container, refused past `limit`."""

    def __init__(self, filename: str, limit: int | None = None):
        self.filename = filename
        self.limit = MAX_UNPACKED_BYTES if limit is None else limit
        self.used = 0

    def spend(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise DocumentTooLargeError(
                f"{self.filename!r} unpacks to more than {self.limit // MB} MB of page content. "
                "Split the document into smaller files."
            )
