"""Text extraction: each supported format yields its text; each kind of bad input is refused
with an error that names the file and says what to do."""

from __future__ import annotations

import pytest

from chatbot.retrieval.errors import (
    CorruptDocumentError,
    DocumentTooLargeError,
    EmptyDocumentError,
    EncryptedDocumentError,
    NotTextError,
    UnsupportedFormatError,
)
from chatbot.retrieval.extraction import DOCX_TYPE, content_type_for, extract_text
from tests.chatbot.retrieval.documents import docx_with, encrypted_pdf, pdf_with_pages

# -- each format --------------------------------------------------------------------------


def test_plain_text_is_decoded_as_utf8_with_line_ends_normalised():
    extracted = extract_text("notes.txt", "Crème brûlée\r\nsecond line\rthird".encode())
    assert extracted.text == "Crème brûlée\nsecond line\nthird"
    assert extracted.content_type == "text/plain"


def test_a_utf8_byte_order_mark_is_dropped():
    assert extract_text("bom.txt", b"\xef\xbb\xbfhello").text == "hello"


def test_utf16_text_with_a_byte_order_mark_is_decoded():
    assert extract_text("wide.txt", "Grüße aus Köln".encode("utf-16")).text == "Grüße aus Köln"


def test_markdown_keeps_its_text_and_headings():
    extracted = extract_text("readme.md", b"# Install\n\nRun `make chat`.\n")
    assert extracted.text == "# Install\n\nRun `make chat`.\n"
    assert extracted.content_type == "text/markdown"


def test_html_keeps_visible_text_and_drops_scripts_styles_and_markup():
    html = (
        b"<html><head><title>Ignored</title><style>p {color: red}</style></head><body>"
        b"<h1>Pricing</h1><p>Plans start at <b>10 euros</b> a month.</p><p>Cancel any time.</p>"
        b"<script>steal(document.cookie)</script></body></html>"
    )
    text = extract_text("page.html", html).text
    assert text == "Pricing\nPlans start at 10 euros a month.\nCancel any time."


def test_html_with_a_declared_charset_is_decoded_with_it():
    html = '<html><head><meta charset="iso-8859-1"></head><body><p>Café</p></body></html>'.encode("latin-1")
    assert extract_text("old.htm", html).text == "Café"


def test_pdf_text_comes_from_every_page():
    pdf = pdf_with_pages([["The first page (intro)."], ["The second page."]])
    extracted = extract_text("report.pdf", pdf)
    assert extracted.text == "The first page (intro).\n\nThe second page."
    assert extracted.content_type == "application/pdf"


def test_a_pdf_encrypted_with_an_empty_user_password_opens_and_is_indexed():
    # Such PDFs only restrict editing or printing; every viewer opens them without asking.
    pdf = encrypted_pdf(pdf_with_pages([["Readable by anyone."]]), user_password="")
    assert extract_text("restricted.pdf", pdf).text == "Readable by anyone."


def test_docx_text_includes_paragraphs_and_tables():
    data = docx_with(["Quarterly report", "Revenue grew."], table=[["Region", "Sales"], ["North", "12"]])
    extracted = extract_text("report.docx", data)
    assert extracted.text == "Quarterly report\n\nRevenue grew.\n\nRegion | Sales\n\nNorth | 12"
    assert extracted.content_type == DOCX_TYPE


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [("A.TXT", "text/plain"), ("dir/notes.Markdown", "text/markdown"), ("C:\\x\\page.HTM", "text/html")],
)
def test_the_extension_picks_the_format_whatever_its_case(filename, content_type):
    assert content_type_for(filename) == content_type


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["photo.png", "archive.zip", "Makefile"])
def test_an_unsupported_format_is_refused_with_the_supported_list(filename):
    with pytest.raises(UnsupportedFormatError, match=r"Upload one of: .*\.docx.*\.pdf.*\.txt"):
        extract_text(filename, b"whatever")


@pytest.mark.parametrize(
    ("filename", "data"), [("empty.txt", b""), ("blank.md", b"  \n\t\n"), ("empty.pdf", b"")]
)
def test_an_empty_file_is_refused(filename, data):
    with pytest.raises(EmptyDocumentError, match="empty|no text"):
        extract_text(filename, data)


def test_a_pdf_without_a_text_layer_is_refused_with_an_ocr_hint():
    with pytest.raises(EmptyDocumentError, match="OCR"):
        extract_text("scan.pdf", pdf_with_pages([[]]))


def test_a_truncated_pdf_is_refused_as_damaged():
    pdf = pdf_with_pages([["Some text that will be cut off."]])
    with pytest.raises(CorruptDocumentError, match="damaged PDF.*save or print it to a new PDF"):
        extract_text("cut.pdf", pdf[: len(pdf) // 2])


def test_a_pdf_with_garbage_after_its_header_is_refused_as_damaged():
    with pytest.raises(CorruptDocumentError, match="damaged PDF"):
        extract_text("garbage.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 4)


def test_a_file_named_pdf_that_is_not_a_pdf_is_refused():
    with pytest.raises(CorruptDocumentError, match="not a PDF"):
        extract_text("fake.pdf", b"just some text pretending")


def test_a_password_protected_pdf_is_refused_with_what_to_do():
    pdf = encrypted_pdf(pdf_with_pages([["Secret plans."]]), user_password="hunter2")
    with pytest.raises(EncryptedDocumentError, match="password-protected. Remove the password"):
        extract_text("secret.pdf", pdf)


def test_a_damaged_docx_is_refused():
    with pytest.raises(CorruptDocumentError, match=r"not a readable \.docx"):
        extract_text("broken.docx", b"PK\x03\x04" + b"\x00" * 100)


def test_a_docx_that_unpacks_to_more_than_the_limit_is_refused_before_parsing(monkeypatch):
    import chatbot.retrieval.containers as containers

    data = docx_with(["Short, but it unpacks to more than the limit set below."])
    monkeypatch.setattr(containers, "MAX_UNPACKED_BYTES", 1024)
    with pytest.raises(DocumentTooLargeError, match=r"unpacks to .*Split the document"):
        extract_text("bomb.docx", data)


def test_a_password_protected_docx_is_refused():
    # Office stores password-protected documents in an OLE container instead of a ZIP.
    with pytest.raises(EncryptedDocumentError, match="password-protected"):
        extract_text("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)


@pytest.mark.parametrize(
    ("data", "named_as"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "a PNG image"),
        (b"%PDF-1.4\nrest", "a PDF"),
        (b"PK\x03\x04rest", "a ZIP archive"),
    ],
)
def test_a_binary_file_posing_as_text_is_refused_and_named(data, named_as):
    with pytest.raises(NotTextError, match=f"is named as text but is {named_as}"):
        extract_text("notes.txt", data)


def test_binary_data_with_nul_bytes_posing_as_text_is_refused():
    with pytest.raises(NotTextError, match="binary data"):
        extract_text("data.md", b"header\x00\x01\x02\x03" * 50)


def test_text_full_of_control_characters_is_refused_as_binary():
    with pytest.raises(NotTextError, match="binary data"):
        extract_text("dump.txt", bytes([1, 2, 3, 4, 5, 6, 65, 66]) * 100)


def test_text_in_a_legacy_encoding_is_refused_rather_than_guessed():
    with pytest.raises(
        NotTextError, match=r"not valid UTF-8 text \(byte 0xe9 at position 3\). Save it as UTF-8"
    ):
        extract_text("latin1.txt", "café au lait".encode("latin-1"))


def test_html_in_a_legacy_encoding_without_a_declaration_is_refused():
    with pytest.raises(NotTextError, match="not valid UTF-8"):
        extract_text("page.html", "<p>café</p>".encode("latin-1"))
