"""Item 12: an upload that fails says so, naming the file and the reason: no 200 with nothing in it.

A parser's own exception (lxml's XMLSyntaxError for a .docx part that is not XML, pypdf's
LimitReachedError for a PDF past its limits) used to end the indexing thread without a word."""

from __future__ import annotations

import httpx

from tests.lambdas.chat_api.conftest import api_url, secret_file, tokens
from tests.security.documents import docx_with_replaced_part, ndjson, pdf_with_contents, upload

__all__ = ["api_url", "secret_file", "tokens"]  # fixtures these tests use


def _refused_naming(response: httpx.Response, filename: str) -> dict:
    """The error the client got, which must be a 4xx or an error line, and name the file."""
    if response.status_code == 200:
        lines = ndjson(response)
        assert lines, "a 200 with no document and no error line"
        error = lines[-1]
        assert error["type"] == "error", error
    else:
        assert 400 <= response.status_code < 500, response.text
        error = response.json()["error"]
    assert repr(filename) in error["message"], error
    return error


def test_a_docx_whose_text_part_is_not_xml_is_refused_naming_the_file(signed_in):
    data = docx_with_replaced_part("word/document.xml", b"<w:document><unclosed>")
    error = _refused_naming(upload(signed_in("alice"), "broken-xml.docx", data), "broken-xml.docx")
    assert error["code"] == "corrupt_document"
    assert "not a readable .docx" in error["message"]


def test_a_pdf_past_the_readers_limits_is_refused_naming_the_file(signed_in):
    array_bomb = b"BT /F1 11 Tf [" + b"0 " * 100_001 + b"] TJ ET"
    error = _refused_naming(
        upload(signed_in("alice"), "array.pdf", pdf_with_contents(array_bomb)), "array.pdf"
    )
    assert error["code"] == "document_too_large"
    assert "array" in error["message"]


def test_a_pdf_with_too_many_filters_is_refused_naming_the_file(signed_in):
    filters = b"/Filter [" + b"/ASCIIHexDecode " * 20 + b"]"
    error = _refused_naming(
        upload(signed_in("bob"), "filters.pdf", pdf_with_contents(b"BT ET", filters)), "filters.pdf"
    )
    assert error["code"] == "document_too_large"


def test_a_failed_upload_stores_nothing(signed_in):
    bob = signed_in("bob")
    before = bob.get("/documents").json()
    upload(signed_in("bob"), "broken-xml.docx", docx_with_replaced_part("word/document.xml", b"<not xml"))
    assert bob.get("/documents").json() == before


def test_an_unexpected_failure_names_the_file_and_its_kind_but_not_the_servers_insides():
    from lambdas.chat_api.documents import _as_chatbot_error

    inside = RuntimeError('connection to server at "db.internal" (10.0.3.7), port 5432 failed')
    error = _as_chatbot_error("notes.pdf", inside)
    message = str(error)
    assert "'notes.pdf' was not indexed (RuntimeError)" in message
    assert "db.internal" not in message
    assert "10.0.3.7" not in message
