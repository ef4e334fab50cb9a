"""Hostile documents, built in memory, and the API calls the security tests make with them.

The tests run against the real chat API (on Postgres) of the chat API tests' fixtures; their
callers are accounts of the API's users file, as the web app's are (`signed_in`)."""

from __future__ import annotations

import io
import json
import zipfile
import zlib

import httpx

from tests.chatbot.retrieval.documents import docx_with, pdf_with_objects


def upload(client: httpx.Client, name: str, data: bytes, workspace: str = "private") -> httpx.Response:
    return client.post("/documents", files={"file": (name, data)}, data={"workspace": workspace})


def ndjson(response: httpx.Response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines() if line]


def uploaded(client: httpx.Client, name: str, data: bytes, workspace: str = "private") -> dict:
    """The stored document of an upload that must succeed."""
    response = upload(client, name, data, workspace)
    assert response.status_code == 200, response.text
    last = ndjson(response)[-1]
    assert last["type"] == "document", last
    return last["document"]


def docx_with_part(name: str, size: int, *, compress: bool = True) -> bytes:
    """A real .docx with one more part of `size` zero bytes, written in 1 MB pieces: a deflated
    zero stream is about a thousandth of its size, so 300 MB makes a file of about 300 KB."""
    out = io.BytesIO(docx_with(["A short document with a large part."]))
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    entry = zipfile.ZipInfo(name)
    entry.compress_type = method
    with zipfile.ZipFile(out, "a") as archive, archive.open(entry, "w", force_zip64=True) as part:
        piece = bytes(1024 * 1024)
        for _ in range(size // len(piece)):
            part.write(piece)
        part.write(bytes(size % len(piece)))
    return out.getvalue()


def docx_with_replaced_part(name: str, content: bytes) -> bytes:
    """A real .docx whose part `name` holds `content` instead."""
    source = zipfile.ZipFile(io.BytesIO(docx_with(["Hello."])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, content if info.filename == name else source.read(info))
    return out.getvalue()


def pdf_with_contents(stream: bytes, stream_keys: bytes = b"") -> bytes:
    """A one-page PDF whose page contents are `stream`, its dictionary holding `stream_keys`."""
    return deflated_pdf([stream], stream_keys=stream_keys, deflate=False)


def deflated_pdf(pages: list[bytes], *, stream_keys: bytes = b"", deflate: bool = True) -> bytes:
    """A PDF with one page per content stream, each deflated (FlateDecode) unless told not to."""
    first_page = 4
    kids = " ".join(f"{first_page + 2 * index} 0 R" for index in range(len(pages))).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, contents in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (first_page + 2 * index + 1)
        )
        data = zlib.compress(contents, 9) if deflate else contents
        keys = stream_keys + (b" /Filter /FlateDecode" if deflate else b"")
        objects.append(b"<< /Length %d %s >>\nstream\n" % (len(data), keys) + data + b"\nendstream")
    return pdf_with_objects(objects)
