"""Index documents uploaded to the documents bucket; delete them when their objects go.

S3 sends ObjectCreated/ObjectRemoved notifications to an SQS queue, which invokes this
handler with batches of messages. Object keys say whose document it is
(chatbot/retrieval/object_keys.py): private/<user_id>/<path> or shared/<workspace>/<path>.

A bad document (corrupt, encrypted, too large...) is logged and dropped: retrying cannot fix
it. Anything else (database or S3 unavailable) fails only its own message, which SQS retries
(the event source mapping needs ReportBatchItemFailures).

Configuration: environment variables, read through `IndexerSettings` (settings.py), the model
the Pulumi program writes the function's environment from.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any
from urllib.parse import unquote_plus

from chatbot.retrieval.errors import DocumentError
from chatbot.retrieval.models import Upload
from chatbot.retrieval.object_keys import KeyLayoutError, owner_of
from chatbot.retrieval.retriever import PRIVATE
from chatbot.retrieval.service import Retrieval
from lambdas.document_indexer.settings import IndexerSettings

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)


@functools.cache
def _retrieval() -> Retrieval:
    """Built once per Lambda container (cold start), reused by later invocations."""
    return Retrieval.from_environment(IndexerSettings.from_env())


@functools.cache
def _s3() -> Any:
    import boto3

    return boto3.client("s3")


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Entry point for an SQS batch (or a direct S3 notification)."""
    return process_event(event, _retrieval(), _s3())


def process_event(event: dict[str, Any], retrieval: Retrieval, s3: Any) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:sqs":
            try:
                notification = json.loads(record["body"])
                for s3_record in notification.get("Records", []):  # s3:TestEvent has none
                    _handle_s3_record(s3_record, retrieval, s3)
            except Exception:
                log.exception("indexing failed; SQS will retry message %s", record.get("messageId"))
                failures.append({"itemIdentifier": record["messageId"]})
        else:
            _handle_s3_record(record, retrieval, s3)  # a direct S3 notification: errors propagate
    return {"batchItemFailures": failures}


def _handle_s3_record(record: dict[str, Any], retrieval: Retrieval, s3: Any) -> None:
    bucket = record["s3"]["bucket"]["name"]
    key = unquote_plus(record["s3"]["object"]["key"])  # S3 sends keys URL-encoded, spaces as '+'
    event_name = record.get("eventName", "")
    try:
        owner = owner_of(key)
    except KeyLayoutError as exc:
        log.warning(json.dumps({"skipped": key, "reason": str(exc)}))
        return
    if event_name.startswith("ObjectRemoved"):
        owner_key = owner.user_id if owner.workspace == PRIVATE else ""
        deleted = retrieval.store.delete_source(owner.workspace, owner_key, owner.source)
        log.info(json.dumps({"deleted": key, "found": deleted}))
        return
    if not event_name.startswith("ObjectCreated"):
        return
    try:
        # Refuse an oversized object before downloading it.
        retrieval.ingestor.check_size(owner.source, int(record["s3"]["object"].get("size", 0)))
        try:
            obj = s3.get_object(Bucket=bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            # Deleted since this notification was sent (SQS may deliver late): its ObjectRemoved
            # notification deletes the document, and a retry could never succeed.
            log.info(json.dumps({"skipped": key, "reason": "the object no longer exists"}))
            return
        retrieval.ingestor.check_size(owner.source, int(obj["ContentLength"]))
        uploaded_by = owner.user_id or obj.get("Metadata", {}).get("uploaded-by") or "s3"
        result = retrieval.ingestor.ingest(
            Upload(
                user_id=uploaded_by,
                filename=owner.source.rsplit("/", 1)[-1],
                data=obj["Body"].read(),
                workspace=owner.workspace,
                source=owner.source,
            )
        )
    except DocumentError as exc:
        log.warning(json.dumps({"rejected": key, "code": exc.code, "reason": str(exc)}))
        return
    log.info(json.dumps({"indexed": key, "chunks": result.document.chunk_count, "replaced": result.replaced}))
