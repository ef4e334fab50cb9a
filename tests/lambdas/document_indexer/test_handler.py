"""The S3-triggered indexer: S3 notifications arrive through SQS; objects under
private/<user>/ and shared/<workspace>/ are indexed, replaced and deleted with the same code
as UI uploads. moto plays S3; PostgreSQL and the embedding model are real."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote_plus

from lambdas.document_indexer import handler as indexer
from lambdas.document_indexer.handler import process_event
from tests.chatbot.retrieval.documents import pdf_with_pages
from tests.chatbot.retrieval.support import table_counts
from tests.lambdas.document_indexer.conftest import BUCKET


def s3_record(key: str, event: str = "ObjectCreated:Put", size: int = 100) -> dict:
    # S3 URL-encodes keys in notifications, with spaces as '+'.
    return {
        "eventSource": "aws:s3",
        "eventName": event,
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": quote_plus(key, safe="/"), "size": size}},
    }


def sqs_event(*bodies: dict) -> dict:
    return {
        "Records": [
            {"messageId": f"message-{number}", "eventSource": "aws:sqs", "body": json.dumps(body)}
            for number, body in enumerate(bodies)
        ]
    }


def put(s3, key: str, data: bytes, **metadata: str) -> dict:
    s3.put_object(Bucket=BUCKET, Key=key, Body=data, Metadata=metadata)
    return {"Records": [s3_record(key, size=len(data))]}


def test_a_private_upload_is_indexed_for_its_owner_only(retrieval, s3):
    notification = put(s3, "private/ana/notes/trip.txt", b"The train to Lisbon leaves at nine.")
    assert process_event(sqs_event(notification), retrieval, s3) == {"batchItemFailures": []}

    [document] = retrieval.store.list_documents("ana", ["private"])
    assert (document.name, document.source, document.uploaded_by) == ("trip.txt", "notes/trip.txt", "ana")
    [hit] = retrieval.retriever.search("ana", "train to Lisbon", k=1)
    assert hit.document_name == "trip.txt"
    assert retrieval.retriever.search("ben", "train to Lisbon", k=5) == []


def test_a_shared_upload_records_the_uploader_from_the_objects_metadata(retrieval, s3):
    process_event(
        sqs_event(put(s3, "shared/handbook/leave.md", b"# Leave\n\n25 days.", **{"uploaded-by": "ana"})),
        retrieval,
        s3,
    )
    [document] = retrieval.store.list_documents("ben", ["shared", "handbook"])
    assert (document.workspace, document.uploaded_by) == ("handbook", "ana")


def test_someone_elses_object_under_a_shared_key_does_not_replace_its_document(retrieval, s3):
    key = "shared/handbook/leave.md"
    process_event(sqs_event(put(s3, key, b"# Leave\n\n25 days.", **{"uploaded-by": "ana"})), retrieval, s3)
    forged = sqs_event(put(s3, key, b"# Leave\n\nUnlimited.", **{"uploaded-by": "ben"}))
    assert process_event(forged, retrieval, s3) == {"batchItemFailures": []}, "dropped, not retried"
    [document] = retrieval.store.list_documents("carl", ["handbook"])
    assert document.uploaded_by == "ana"
    [hit] = retrieval.retriever.search("carl", "leave days", k=1, workspaces=["handbook"])
    assert hit.text == "# Leave\n\n25 days."


def test_uploading_the_same_key_again_replaces_the_document(retrieval, s3):
    process_event(sqs_event(put(s3, "private/ana/plan.txt", b"Plan A: walk.")), retrieval, s3)
    process_event(sqs_event(put(s3, "private/ana/plan.txt", b"Plan B: cycle.")), retrieval, s3)
    assert [hit.text for hit in retrieval.retriever.search("ana", "plan", k=5)] == ["Plan B: cycle."]


def test_deleting_the_object_deletes_the_document(retrieval, s3):
    process_event(sqs_event(put(s3, "private/ana/old.txt", b"Obsolete.")), retrieval, s3)
    s3.delete_object(Bucket=BUCKET, Key="private/ana/old.txt")
    process_event(
        sqs_event({"Records": [s3_record("private/ana/old.txt", "ObjectRemoved:Delete")]}), retrieval, s3
    )
    assert table_counts(retrieval.store.pool) == (0, 0)


def test_keys_with_spaces_and_unicode_are_decoded(retrieval, s3):
    process_event(sqs_event(put(s3, "private/ana/My Notes — 2026.txt", b"Decoded.")), retrieval, s3)
    [document] = retrieval.store.list_documents("ana", ["private"])
    assert document.name == "My Notes — 2026.txt"


def test_a_bad_document_is_logged_and_dropped_not_retried(retrieval, s3, caplog):
    caplog.set_level(logging.WARNING, logger=indexer.__name__)
    broken = pdf_with_pages([["text"]])[:120]
    result = process_event(sqs_event(put(s3, "private/ana/broken.pdf", broken)), retrieval, s3)

    assert result == {"batchItemFailures": []}  # retrying cannot repair a damaged file
    assert table_counts(retrieval.store.pool) == (0, 0)
    [logged] = [json.loads(record.message) for record in caplog.records]
    assert logged["rejected"] == "private/ana/broken.pdf"
    assert logged["code"] == "corrupt_document"


def test_an_object_over_the_size_limit_is_refused_before_it_is_downloaded(retrieval, s3, caplog):
    caplog.set_level(logging.WARNING, logger=indexer.__name__)
    s3.put_object(Bucket=BUCKET, Key="private/ana/huge.txt", Body=b"small in moto")
    notification = {"Records": [s3_record("private/ana/huge.txt", size=30 * 1024 * 1024)]}  # what S3 reports
    process_event(sqs_event(notification), retrieval, s3)
    assert json.loads(caplog.records[0].message)["code"] == "document_too_large"
    assert table_counts(retrieval.store.pool) == (0, 0)


def test_a_transient_failure_fails_only_its_own_message_for_sqs_to_retry(retrieval, s3):
    unreachable = {"Records": [s3_record("private/ana/a.txt")]}
    unreachable["Records"][0]["s3"]["bucket"]["name"] = "bucket-not-there-yet"  # S3 answers NoSuchBucket
    good = put(s3, "private/ana/fine.txt", b"Still indexed.")
    result = process_event(sqs_event(unreachable, good), retrieval, s3)

    assert result == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
    assert [doc.name for doc in retrieval.store.list_documents("ana", ["private"])] == ["fine.txt"]


def test_a_late_notification_for_an_object_deleted_since_is_skipped_not_retried(retrieval, s3):
    late = put(s3, "private/ana/gone.txt", b"Deleted before we got to it.")
    s3.delete_object(Bucket=BUCKET, Key="private/ana/gone.txt")
    assert process_event(sqs_event(late), retrieval, s3) == {"batchItemFailures": []}
    assert table_counts(retrieval.store.pool) == (0, 0)


def test_the_s3_test_event_and_foreign_keys_are_ignored(retrieval, s3):
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}
    stray = put(s3, "uploads/ana/file.txt", b"Not in the layout.")
    assert process_event(sqs_event(test_event, stray), retrieval, s3) == {"batchItemFailures": []}
    assert table_counts(retrieval.store.pool) == (0, 0)


def test_the_lambda_entry_point_configures_itself_from_the_environment(indexer_database, s3, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", indexer_database)
    monkeypatch.setenv("MAX_DOCUMENT_MB", "1")
    monkeypatch.delenv("EMBEDDING_MODEL_SPEC", raising=False)
    indexer._retrieval.cache_clear()
    indexer._s3.cache_clear()
    try:
        notification = put(s3, "private/zoe/cold-start.txt", b"Indexed on a cold start.")
        assert indexer.handler(sqs_event(notification), None) == {"batchItemFailures": []}
        retrieval = indexer._retrieval()
        assert retrieval.ingestor.settings.max_document_bytes == 1024 * 1024
        [hit] = retrieval.retriever.search("zoe", "cold start", k=1)
        assert hit.document_name == "cold-start.txt"
        retrieval.store.delete_document("zoe", hit.document_id)
    finally:
        indexer._retrieval().close()
        indexer._retrieval.cache_clear()
        indexer._s3.cache_clear()
