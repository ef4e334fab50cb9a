"""Ingestion into the real store with the real model: every format lands and is found; bad
input is refused with the store unchanged; re-uploads replace whole; progress is reported."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from chatbot.api.documents import IngestProgress
from chatbot.retrieval.errors import (
    CorruptDocumentError,
    DocumentConflictError,
    DocumentError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    EmbeddingError,
    EmptyDocumentError,
    EncryptedDocumentError,
    NotTextError,
    UnsupportedFormatError,
)
from chatbot.retrieval.extraction import DOCX_TYPE
from chatbot.retrieval.ingestion import Ingestor
from chatbot.retrieval.models import Upload
from chatbot.retrieval.settings import RetrievalSettings
from tests.chatbot.retrieval.documents import docx_with, encrypted_pdf, pdf_with_pages
from tests.chatbot.retrieval.support import table_counts

FORMATS = [
    ("notes.txt", b"The lighthouse keeper polishes the lens every Tuesday.", "text/plain"),
    ("guide.md", b"# Beekeeping\n\nSmoke calms the bees before the hive is opened.", "text/markdown"),
    (
        "page.html",
        b"<html><body><p>The glacier retreats <em>forty metres</em> each summer.</p></body></html>",
        "text/html",
    ),
    (
        "report.pdf",
        pdf_with_pages([["The vineyard harvests its grapes in late September."]]),
        "application/pdf",
    ),
    ("minutes.docx", docx_with(["The orchestra rehearses the symphony on Fridays."]), DOCX_TYPE),
]


@pytest.mark.parametrize(("filename", "data", "content_type"), FORMATS, ids=[f[0] for f in FORMATS])
def test_each_format_is_indexed_listed_and_found(retrieval, filename, data, content_type):
    result = retrieval.ingestor.ingest(Upload(user_id="ana", filename=filename, data=data))

    assert result.replaced is False
    assert result.document.content_type == content_type
    assert result.document.size_bytes == len(data)
    assert result.document.chunk_count == 1
    assert retrieval.store.list_documents("ana", ["private"]) == [result.document]
    query = {"notes.txt": "lighthouse lens", "guide.md": "bees hive smoke", "page.html": "glacier summer"}
    query |= {"report.pdf": "grape harvest", "minutes.docx": "orchestra rehearsal"}
    [hit] = retrieval.retriever.search("ana", query[filename], k=1)
    assert (hit.document_name, hit.chunk_index) == (filename, 0)


def test_a_long_document_becomes_many_chunks_in_order(retrieval):
    text = "\n\n".join(f"Paragraph {number} is about topic number {number}." * 5 for number in range(40))
    result = retrieval.ingestor.ingest(Upload(user_id="ana", filename="long.txt", data=text.encode()))
    with retrieval.store.pool.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT chunk_index, start_offset, text FROM chunks ORDER BY chunk_index")
        rows = cur.fetchall()
    assert result.document.chunk_count == len(rows) >= 10
    assert [row[0] for row in rows] == list(range(len(rows)))
    assert [text[offset : offset + len(chunk)] for _, offset, chunk in rows] == [row[2] for row in rows]


def test_progress_counts_chunks_up_to_the_total_and_ends_done(retrieval):
    settings = RetrievalSettings(chunk_size=200, chunk_overlap=0, embed_batch_size=3)
    ingestor = Ingestor(retrieval.store, retrieval.embedder, settings)
    reports: list[IngestProgress] = []
    text = "\n\n".join(f"Sentence number {number} says something new about rivers." for number in range(20))
    ingestor.ingest(
        Upload(user_id="ana", filename="rivers.txt", data=text.encode()), on_progress=reports.append
    )

    stages = [report.stage for report in reports]
    assert stages[0] == "extracting"
    assert stages[-2:] == ["storing", "done"]
    embedding = [report for report in reports if report.stage == "embedding"]
    total = embedding[0].chunks_total
    assert [report.chunks_done for report in embedding] == [0, *range(3, total, 3), total]
    fractions = [report.fraction for report in reports]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


def test_uploading_the_same_file_again_replaces_it(retrieval):
    first = retrieval.ingestor.ingest(
        Upload(user_id="ana", filename="plan.txt", data=b"Version one: walruses.")
    )
    second = retrieval.ingestor.ingest(
        Upload(user_id="ana", filename="plan.txt", data=b"Version two: pelicans.")
    )

    assert second.replaced is True
    assert [doc.id for doc in retrieval.store.list_documents("ana", ["private"])] == [second.document.id]
    assert second.document.id != first.document.id
    texts = [hit.text for hit in retrieval.retriever.search("ana", "walruses pelicans", k=5)]
    assert texts == ["Version two: pelicans."]


def test_the_same_file_name_from_two_users_is_two_private_documents(retrieval):
    retrieval.ingestor.ingest(Upload(user_id="ana", filename="todo.txt", data=b"Ana buys apples."))
    retrieval.ingestor.ingest(Upload(user_id="ben", filename="todo.txt", data=b"Ben buys bread."))
    assert table_counts(retrieval.store.pool) == (2, 2)


def test_a_shared_document_is_replaced_only_by_its_uploader_or_one_who_may_replace_anyones(retrieval):
    shared = {"filename": "faq.md", "workspace": "shared"}
    first = retrieval.ingestor.ingest(Upload(user_id="ana", data=b"Old FAQ.", **shared)).document
    with pytest.raises(DocumentConflictError, match="'faq.md' in the 'shared' workspace belongs to 'ana'"):
        retrieval.ingestor.ingest(Upload(user_id="ben", data=b"New FAQ.", **shared))
    assert retrieval.store.list_documents("carl", ["shared"]) == [first]
    assert retrieval.ingestor.ingest(Upload(user_id="ana", data=b"Newer FAQ.", **shared)).replaced
    admin = retrieval.ingestor.ingest(Upload(user_id="root", data=b"FAQ.", **shared), may_replace_others=True)
    assert admin.replaced
    [document] = retrieval.store.list_documents("carl", ["shared"])
    assert document.uploaded_by == "root"


def test_the_store_checks_the_owner_under_its_lock_whatever_the_caller_checked(retrieval, monkeypatch):
    retrieval.ingestor.ingest(Upload(user_id="ana", filename="faq.md", data=b"Old FAQ.", workspace="shared"))
    # As if ben's early check had run before ana's upload committed.
    monkeypatch.setattr(retrieval.ingestor, "check_may_replace", lambda *args, **kwargs: None)
    with pytest.raises(DocumentConflictError):
        retrieval.ingestor.ingest(
            Upload(user_id="ben", filename="faq.md", data=b"New FAQ.", workspace="shared")
        )
    [document] = retrieval.store.list_documents("carl", ["shared"])
    assert document.uploaded_by == "ana"


BAD_UPLOADS = [
    ("report.pdf", b"", EmptyDocumentError, "is empty"),
    ("report.pdf", pdf_with_pages([[]]), EmptyDocumentError, "no text to index"),
    ("report.pdf", pdf_with_pages([["cut short"]])[:150], CorruptDocumentError, "damaged PDF"),
    (
        "report.pdf",
        encrypted_pdf(pdf_with_pages([["locked"]]), user_password="pw"),
        EncryptedDocumentError,
        "password",
    ),
    ("report.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", NotTextError, "PNG image"),
    ("report.txt", "naïve café".encode("cp1252"), NotTextError, "not valid UTF-8"),
    ("report.docx", b"PK\x03\x04 not really a zip", CorruptDocumentError, "docx"),
    ("report.exe", b"MZ\x90\x00", UnsupportedFormatError, "cannot be indexed"),
    ("report.txt", b"x" * 2001, DocumentTooLargeError, r"is 2 KB; the limit is 1.5 KB"),
]


@pytest.mark.parametrize(
    ("filename", "data", "error", "message"),
    BAD_UPLOADS,
    ids=[e[2].__name__ + "-" + e[0] for e in BAD_UPLOADS],
)
def test_bad_input_is_refused_and_leaves_the_store_unchanged(retrieval, filename, data, error, message):
    ingestor = Ingestor(retrieval.store, retrieval.embedder, RetrievalSettings(max_document_bytes=1536))
    source = "quarterly-report"  # the bad upload would replace this good one
    good = ingestor.ingest(Upload(user_id="ana", filename="report.txt", data=b"Revenue rose.", source=source))
    before = table_counts(retrieval.store.pool)

    with pytest.raises(error, match=message) as raised:
        ingestor.ingest(Upload(user_id="ana", filename=filename, data=data, source=source))

    assert isinstance(raised.value, DocumentError)
    assert raised.value.code != "internal_error"
    assert table_counts(retrieval.store.pool) == before
    assert retrieval.store.list_documents("ana", ["private"]) == [good.document]


def test_an_oversized_file_is_refused_with_its_size_and_the_limit(retrieval):
    ingestor = Ingestor(retrieval.store, retrieval.embedder)
    with pytest.raises(DocumentTooLargeError, match=r"'big.txt' is 26 MB; the limit is 25 MB. Split it"):
        ingestor.check_size("big.txt", 26 * 1024 * 1024)


class FailingOnSecondBatch:
    """The real model, except that its second call fails, as an endpoint may mid-upload."""

    def __init__(self, embedder):
        self.name, self.dimension, self._embedder, self.calls = embedder.name, embedder.dimension, embedder, 0

    def embed_documents(self, texts):
        self.calls += 1
        if self.calls == 2:
            raise EmbeddingError("The embeddings endpoint failed.")
        return self._embedder.embed_documents(texts)


def test_an_embedding_failure_half_way_leaves_the_store_unchanged(retrieval):
    retrieval.ingestor.ingest(Upload(user_id="ana", filename="essay.txt", data=b"The first version."))
    before = table_counts(retrieval.store.pool)
    ingestor = Ingestor(
        retrieval.store,
        FailingOnSecondBatch(retrieval.embedder),
        RetrievalSettings(chunk_size=100, chunk_overlap=0, embed_batch_size=1),
    )
    text = "\n\n".join(f"Paragraph {number} of the second version." for number in range(5))
    with pytest.raises(EmbeddingError):
        ingestor.ingest(Upload(user_id="ana", filename="essay.txt", data=text.encode()))
    assert table_counts(retrieval.store.pool) == before


def test_concurrent_uploads_of_the_same_source_end_with_exactly_one_copy(retrieval):
    barrier = threading.Barrier(4)
    errors = []

    def upload(version: int):
        try:
            barrier.wait()
            data = "\n\n".join(f"Version {version}, paragraph {p}." * 8 for p in range(version + 1)).encode()
            retrieval.ingestor.ingest(Upload(user_id="ana", filename="race.txt", data=data))
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(version,)) for version in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    [document] = retrieval.store.list_documents("ana", ["private"])
    assert table_counts(retrieval.store.pool) == (1, document.chunk_count)


def test_readers_see_the_old_or_the_new_version_never_a_mix(retrieval):
    from chatbot.retrieval.chunking import TextChunk
    from chatbot.retrieval.store import NewDocument

    def version(number: int, chunks: int) -> NewDocument:
        texts = [f"marker version{number} part {index}" for index in range(chunks)]
        vectors = np.tile(retrieval.embedder.embed_query("marker"), (chunks, 1))
        return NewDocument(
            workspace="private", owner_key="ana", uploaded_by="ana", source="live.txt", name="live.txt",
            content_type="text/plain", size_bytes=1, sha256="-", vectors=vectors,
            chunks=[TextChunk(index=i, start_offset=0, text=text) for i, text in enumerate(texts)],
        )  # fmt: skip

    versions = [version(number, chunks=3 + number % 4) for number in range(6)]
    retrieval.store.replace_document(versions[0])
    stop, seen = threading.Event(), []

    def read():
        while not stop.is_set():
            hits = retrieval.store.candidates(
                "ana",
                ["private"],
                query_text="marker",
                query_vector=None,
                limit=50,
                mode="text",
                ef_search=40,
            )
            seen.append([*sorted({hit.text.split()[1] for hit in hits}), len(hits)])

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(5):
        for document in versions:
            retrieval.store.replace_document(document)
    stop.set()
    reader.join()

    assert len(seen) > 10
    for names_and_count in seen:
        *names, count = names_and_count
        assert len(names) == 1, f"a reader saw chunks of two versions at once: {names}"
        assert count == 3 + int(names[0].removeprefix("version")) % 4


def test_a_user_deletes_their_own_document(retrieval):
    result = retrieval.ingestor.ingest(Upload(user_id="ana", filename="old.txt", data=b"Out of date."))
    retrieval.store.delete_document("ana", result.document.id)
    assert table_counts(retrieval.store.pool) == (0, 0)


def test_nobody_deletes_another_users_private_document(retrieval):
    result = retrieval.ingestor.ingest(Upload(user_id="ana", filename="mine.txt", data=b"Ana's."))
    with pytest.raises(DocumentNotFoundError, match="that you may delete"):
        retrieval.store.delete_document("ben", result.document.id)
    assert table_counts(retrieval.store.pool) == (1, 1)


def test_a_shared_document_is_deleted_by_its_uploader_only(retrieval):
    result = retrieval.ingestor.ingest(
        Upload(user_id="ana", filename="team.txt", data=b"Team notes.", workspace="shared")
    )
    with pytest.raises(DocumentNotFoundError):
        retrieval.store.delete_document("ben", result.document.id)
    retrieval.store.delete_document("ana", result.document.id)
    assert table_counts(retrieval.store.pool) == (0, 0)


@pytest.mark.parametrize("document_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_deleting_an_unknown_document_says_so(retrieval, document_id):
    with pytest.raises(DocumentNotFoundError, match="List your documents"):
        retrieval.store.delete_document("ana", document_id)


@pytest.mark.parametrize(
    "fields",
    [
        {"user_id": "", "filename": "a.txt"},
        {"user_id": "ana", "filename": ""},
        {"user_id": "ana", "filename": "a\nb.txt"},
        {"user_id": "ana", "filename": "a.txt", "workspace": "Not A Workspace"},
    ],
)
def test_an_upload_with_invalid_fields_is_refused_before_any_work(fields):
    with pytest.raises(ValueError, match="validation error"):
        Upload(data=b"text", **fields)
