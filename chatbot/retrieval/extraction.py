"""Plain text out of uploaded files: txt, md, html, pdf, docx.

The file's extension says what it claims to be; its bytes are then checked against the
claim, so a binary file posing as text, a corrupt or encrypted PDF, or undecodable text
is refused with a `DocumentError` that says what to do.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict

from chatbot.retrieval.containers import UnpackBudget, refuse_zip_bomb
from chatbot.retrieval.errors import (
    CorruptDocumentError,
    DocumentError,
    DocumentTooLargeError,
    EmptyDocumentError,
    EncryptedDocumentError,
    NotTextError,
    UnsupportedFormatError,
)

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CONTENT_TYPES = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
    ".docx": DOCX_TYPE,
}

#: Signatures of common binary formats, to name what a file really is when it poses as text.
_MAGIC = {
    b"%PDF-": "a PDF",
    b"PK\x03\x04": "a ZIP archive (or a .docx)",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\xd0\xcf\x11\xe0": "an old Office file (.doc/.xls) or a password-protected Office file",
    b"\x7fELF": "a program",
}
# Characters that do not occur in text: C0 controls other than tab, newline, form feed and CR.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class ExtractedText(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    content_type: str


def content_type_for(filename: str) -> str:
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    try:
        return CONTENT_TYPES[suffix]
    except KeyError:
        kinds = ", ".join(sorted(CONTENT_TYPES))
        raise UnsupportedFormatError(
            f"{filename!r}: {suffix or 'files without an extension'} cannot be indexed. "
            f"Upload one of: {kinds}."
        ) from None


def extract_text(filename: str, data: bytes) -> ExtractedText:
    """The document's text, normalised to `\\n` line ends. Raises a `DocumentError`."""
    content_type = content_type_for(filename)
    if not data:
        raise EmptyDocumentError(f"{filename!r} is empty. Upload a file with some text in it.")
    extractor = _EXTRACTORS[content_type]
    try:
        raw = extractor(filename, data)
    except DocumentError:
        raise
    except Exception as exc:
        # The parsers (lxml, pypdf, python-docx) raise many types on hostile input; each is the
        # file's fault, and is said as such rather than left to end the upload without a word.
        raise CorruptDocumentError(
            f"{filename!r} could not be read ({type(exc).__name__}: {exc}). Open it in the program that "
            "made it, save it again, and upload the new copy."
        ) from exc
    # Text files with a NUL were refused above; a NUL that a PDF or DOCX extractor writes is no
    # one's text, and is dropped.
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        hint = (
            " It may be scanned pages without a text layer: run OCR on it first."
            if content_type == "application/pdf"
            else ""
        )
        raise EmptyDocumentError(f"{filename!r} contains no text to index.{hint}")
    return ExtractedText(text=text, content_type=content_type)


# -- text ------------------------------------------------------------------------------------


def _decode_text(filename: str, data: bytes) -> str:
    """UTF-8 (with or without BOM), or UTF-16 with a BOM. Anything else is refused rather
    than guessed: a wrong guess would index mojibake silently."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise NotTextError(
                f"{filename!r} starts like UTF-16 text but does not decode ({exc.reason}). "
                "Save it as UTF-8 and upload it again."
            ) from exc
    _refuse_binary(filename, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotTextError(
            f"{filename!r} is not valid UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}). "
            "Save it as UTF-8 (most editors offer this under 'Save as' or 'Encoding') and upload it again."
        ) from exc
    if len(_CONTROL.findall(text[:65536])) > 0.01 * min(len(text), 65536):
        raise NotTextError(f"{filename!r} holds binary data, not text. Upload the text itself.")
    if (at := text.find("\x00")) >= 0:
        # A person's text is refused for a NUL wherever it arrives (messages, titles, names),
        # not stripped: the chat API says where it is and nothing is changed behind anyone's back.
        raise NotTextError(
            f"{filename!r} contains a NUL character (\\u0000) at character {at}, which cannot be "
            "stored. Remove it and upload the file again."
        )
    return text


def _refuse_binary(filename: str, data: bytes) -> None:
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise NotTextError(
                f"{filename!r} is named as text but is {what}. Upload it with its real extension "
                f"({', '.join(sorted(CONTENT_TYPES))})."
            )
    if b"\x00" in data[:8192]:
        raise NotTextError(f"{filename!r} holds binary data (NUL bytes), not text. Upload the text itself.")


def _html_text(filename: str, data: bytes) -> str:
    from bs4 import BeautifulSoup

    declared = b"charset" in data[:4096].lower() and not data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if declared:
        _refuse_binary(filename, data)
        markup: bytes | str = data  # BeautifulSoup honours the declared <meta charset>
    else:
        markup = _decode_text(filename, data)  # same rules as plain text: no guessing
    soup = BeautifulSoup(markup, "lxml")
    for tag in soup(["script", "style", "noscript", "template", "svg", "head"]):
        tag.decompose()
    # Block elements end a line; inline ones (<b>, <a>) stay inside their sentence.
    for tag in soup(_BLOCK_TAGS):
        tag.insert_after("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_BLOCK_TAGS = [
    "p", "div", "br", "li", "tr", "table", "section", "article", "header", "footer", "blockquote",
    "pre", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "main", "nav",
]  # fmt: skip


# -- pdf -------------------------------------------------------------------------------------


def _pdf_text(filename: str, data: bytes) -> str:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PdfReadError

    if b"%PDF-" not in data[:1024]:
        raise CorruptDocumentError(
            f"{filename!r} is named .pdf but is not a PDF. Upload the real PDF, or rename the file "
            "with its real extension."
        )
    # pypdf logs every repairable oddity; a corrupt upload is reported once, as our error.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are encrypted with an empty user password (only editing is restricted):
            # those open without one and can be indexed.
            try:
                opened = reader.decrypt("")
            except (DependencyError, NotImplementedError):
                opened = PasswordType.NOT_DECRYPTED
            if not opened:
                raise EncryptedDocumentError(
                    f"{filename!r} is password-protected. Remove the password (print it to a new PDF, "
                    "or save a copy without security) and upload it again."
                )
        budget = UnpackBudget(filename)
        pages = []
        for page in reader.pages:
            # pypdf caps each stream it decodes; the budget caps them all together, before
            # each page's text is read from its (now decoded, cached) contents.
            contents = page.get_contents()
            budget.spend(len(contents.get_data()) if contents is not None else 0)
            pages.append((page.extract_text() or "").strip())
        return "\n\n".join(pages).strip()
    except (EncryptedDocumentError, DocumentTooLargeError):
        raise
    except LimitReachedError as exc:
        raise DocumentTooLargeError(
            f"{filename!r} holds more than a PDF reader may unpack ({exc}). Split it into smaller files, "
            "or print it to a new PDF, and upload that."
        ) from exc
    except FileNotDecryptedError as exc:
        raise EncryptedDocumentError(
            f"{filename!r} is password-protected. Remove the password and upload it again."
        ) from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        # pypdf reports damage through many exception types; all mean the same thing here.
        raise CorruptDocumentError(
            f"{filename!r} is a damaged PDF ({type(exc).__name__}: {exc}). Open it in a PDF viewer and "
            "save or print it to a new PDF, then upload that."
        ) from exc


# -- docx ------------------------------------------------------------------------------------


def _docx_text(filename: str, data: bytes) -> str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise EncryptedDocumentError(
            f"{filename!r} is password-protected or an old .doc file. Remove the password, or save it "
            "as .docx, and upload it again."
        )
    refuse_zip_bomb(filename, data)
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError, SyntaxError) as exc:
        # SyntaxError: lxml's XMLSyntaxError, for a part that is not well-formed XML.
        raise CorruptDocumentError(
            f"{filename!r} is not a readable .docx file ({exc}). Open it in a word processor, save it "
            "as .docx, and upload it again."
        ) from exc
    blocks = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            blocks.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n\n".join(block for block in blocks if block.strip())


_EXTRACTORS: dict[str, Callable[[str, bytes], str]] = {
    "text/plain": _decode_text,
    "text/markdown": _decode_text,
    "text/html": _html_text,
    "application/pdf": _pdf_text,
    DOCX_TYPE: _docx_text,
}
