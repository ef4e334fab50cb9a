"""Item 7: a .docx is a ZIP, and every entry of it counts: its total unpacked size, its number of
entries and each entry's compression ratio are checked before anything is inflated.

The bombs are real .docx files with one more part, a run of zeros deflated to about a
thousandth of its size (a 300 MB part makes a file of about 300 KB)."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest

from chatbot.retrieval.errors import DocumentTooLargeError
from chatbot.retrieval.extraction import extract_text
from tests.chatbot.retrieval.documents import docx_with
from tests.lambdas.chat_api.conftest import api_url, secret_file, tokens
from tests.security.documents import deflated_pdf, docx_with_part, upload

__all__ = ["api_url", "secret_file", "tokens"]  # fixtures these tests use


@pytest.fixture(scope="module")
def image_bomb() -> bytes:
    return docx_with_part("word/media/image1.png", 300 * 1024 * 1024)


def test_a_300_mb_image_part_is_refused_through_the_api(signed_in, image_bomb: bytes):
    assert len(image_bomb) < 1024 * 1024
    response = upload(signed_in("alice"), "holiday.docx", image_bomb)
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "document_too_large"
    assert "'holiday.docx' unpacks to 300 MB" in error["message"]


def test_the_check_inflates_nothing(image_bomb: bytes):
    tracemalloc.start()
    try:
        with pytest.raises(DocumentTooLargeError):
            extract_text("holiday.docx", image_bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * len(image_bomb), f"{peak} bytes allocated to refuse a {len(image_bomb)}-byte file"


def test_a_huge_relationships_part_is_refused():
    bomb = docx_with_part("_rels/extra.rels", 150 * 1024 * 1024)
    with pytest.raises(DocumentTooLargeError, match="unpacks to 150 MB"):
        extract_text("rels.docx", bomb)


def test_one_entry_far_more_compressed_than_any_document_is_refused():
    bomb = docx_with_part("word/media/zeros.bin", 20 * 1024 * 1024)  # under the total, 1000:1
    with pytest.raises(DocumentTooLargeError, match=r"'word/media/zeros.bin'.*ZIP bomb"):
        extract_text("ratio.docx", bomb)


def test_too_many_entries_are_refused():
    out = io.BytesIO(docx_with(["Many parts."]))
    with zipfile.ZipFile(out, "a") as archive:
        for index in range(20_000):  # a real .docx has tens of parts, a large one hundreds
            archive.writestr(f"customXml/extra{index}.xml", b"")
    with pytest.raises(DocumentTooLargeError, match=r"holds 200\d\d parts; the limit is"):
        extract_text("parts.docx", out.getvalue())


def test_a_pdfs_pages_together_may_not_unpack_past_the_limit(monkeypatch):
    import chatbot.retrieval.containers as containers

    # Three pages whose deflated contents are small, each under pypdf's own per-stream limit,
    # and together over the limit (lowered here so that the test stays quick).
    monkeypatch.setattr(containers, "MAX_UNPACKED_BYTES", 2 * 1024 * 1024)
    page = b"BT /F1 11 Tf 72 720 Td (Page text) Tj ET" + b" " * (1024 * 1024)
    with pytest.raises(DocumentTooLargeError, match=r"'pages.pdf' unpacks to more than 2 MB"):
        extract_text("pages.pdf", deflated_pdf([page, page, page]))


def test_a_real_docx_with_a_large_stored_image_is_still_indexed():
    # An image does not compress: 30 MB stored is 30 MB in the file, ratio 1.
    document = docx_with_part("word/media/photo.jpg", 30 * 1024 * 1024, compress=False)
    assert "A short document" in extract_text("photo.docx", document).text


def many_header_parts(count: int, size: int) -> bytes:
    """A real .docx with `count` header parts of `size` bytes of empty paragraphs, each one
    linked from the document, so that python-docx parses every one of them at open."""
    source = zipfile.ZipFile(io.BytesIO(docx_with(["Headers."])))
    header = (
        b'<?xml version="1.0"?><w:hdr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        + b"<w:p/>" * (size // 6)
        + b"</w:hdr>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "[Content_Types].xml":
                overrides = b"".join(
                    b'<Override PartName="/word/h%d.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.wordprocessingml.header+xml"/>' % index
                    for index in range(count)
                )
                data = data.replace(b"</Types>", overrides + b"</Types>")
            if info.filename == "word/_rels/document.xml.rels":
                links = b"".join(
                    b'<Relationship Id="rX%d" Type="http://schemas.openxmlformats.org/officeDocument/'
                    b'2006/relationships/header" Target="h%d.xml"/>' % (index, index)
                    for index in range(count)
                )
                data = data.replace(b"</Relationships>", links + b"</Relationships>")
            archive.writestr(info.filename, data)
        for index in range(count):
            archive.writestr(f"word/h{index}.xml", header, compresslevel=9)
    return out.getvalue()


def test_many_markup_parts_each_under_a_megabyte_are_refused_before_any_is_parsed():
    # Found in review: 30 headers of 1 MB each (88 KB of file) cost 655 MB as python-docx parsed them.
    bomb = many_header_parts(30, 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(DocumentTooLargeError, match="ZIP bomb|of markup"):
            extract_text("headers.docx", bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * len(bomb), f"{peak} bytes allocated to refuse a {len(bomb)}-byte file"


def test_markup_far_more_compressed_than_text_is_refused_and_a_long_real_document_is_read():
    document = many_header_parts(3, 200 * 1024)  # 600 KB of markup, about 150:1 as empty paragraphs
    with pytest.raises(DocumentTooLargeError, match="ZIP bomb"):
        extract_text("headers.docx", document)
    paragraphs = [f"Paragraph {index} of a long report, with words that differ." for index in range(20_000)]
    assert "Paragraph 19999" in extract_text("long.docx", docx_with(paragraphs)).text
