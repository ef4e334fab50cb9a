"""POST /documents/upload-url: a file too large for a request to the API goes straight to the
documents bucket through a presigned POST, and the bucket's indexer indexes it.

The whole way as AWS runs it, with moto for S3 and SQS: the real chat API hands out the form,
httpx posts the file to S3, S3 notifies the queue, and the indexer's handler takes the queue's
message into the same Postgres the API lists documents from."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatbot.api.local_tokens import local_secret
from chatbot.postgres import create_database
from chatbot.retrieval.service import Retrieval
from lambdas.chat_api.auth import LocalTokens
from lambdas.document_indexer.handler import process_event
from streamlit_app.api import ChatApi
from tests.chatbot.retrieval.support import shared_embedder
from tests.lambdas.chat_api.conftest import client_for
from tests.servers import chat_api_server, moto_client, moto_server

BUCKET = "chatbot-documents"
#: The API's own upload limit here, as a function URL's is in AWS: smaller than the bucket's.
API_LIMIT_MB = 0.01
#: A document over the API's limit: real sentences, a few chunks.
HANDBOOK = ("Staff may carry over five days of leave into the next year. " * 200).encode()
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def queue_url(moto_url: str) -> str:
    """The bucket, notifying a queue of every object created or removed (as infra/components/vector_store.py)."""
    s3, sqs = moto_client("s3", moto_url), moto_client("sqs", moto_url)
    s3.create_bucket(Bucket=BUCKET)
    url = sqs.create_queue(QueueName="documents-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]
        },
    )
    return url


@pytest.fixture(scope="module")
def database(postgres_server_url: str) -> str:
    return create_database(postgres_server_url, "direct_upload_tests")


@pytest.fixture(scope="module")
def bucket_api(moto_url: str, queue_url: str, database: str, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """The real chat API with a documents bucket, configured as the Pulumi program does in AWS."""
    secret_file = tmp_path_factory.mktemp("direct") / "local-auth-secret"
    env = {
        **AWS,
        "CHATBOT_MODELS_FILE": "models.yaml",
        "DATABASE_URL": database,
        "CHATBOT_LOCAL_SECRET_FILE": str(secret_file),
        "MAX_DOCUMENT_MB": str(API_LIMIT_MB),
        "DOCUMENTS_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": moto_url,
        # Every user may share here: these tests are about the bucket, not about who may share.
        "CHATBOT_SHARED_DOCUMENT_WRITERS": "everyone",
    }
    with chat_api_server(env) as url:
        yield url, secret_file


def signed_in(bucket_api: tuple[str, Path], user: str) -> httpx.Client:
    url, secret_file = bucket_api
    return client_for(url, LocalTokens(local_secret(secret_file)), user)


def run_the_indexer(moto_url: str, queue_url: str, database: str) -> dict:
    """Deliver the queue's messages to the indexer's handler, as Lambda's SQS trigger does."""
    sqs = moto_client("sqs", moto_url)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    event = {
        "Records": [
            {"messageId": message["MessageId"], "eventSource": "aws:sqs", "body": message["Body"]}
            for message in messages
        ]
    }
    retrieval = Retrieval.open(database, embedder=shared_embedder())
    try:
        return process_event(event, retrieval, moto_client("s3", moto_url))
    finally:
        retrieval.close()


def test_a_file_too_large_for_the_api_goes_straight_to_the_bucket_and_is_indexed(
    bucket_api, moto_url: str, queue_url: str, database: str
):
    with signed_in(bucket_api, "alice") as alice, signed_in(bucket_api, "bob") as bob:
        limits = alice.get("/limits").json()
        assert len(HANDBOOK) > limits["max_document_bytes"], "too large for POST /documents"
        assert limits["max_direct_upload_bytes"] == 25 * 1024 * 1024, "the indexer's own limit"
        refused = alice.post("/documents", files={"file": ("handbook.txt", HANDBOOK)})
        assert refused.status_code == 413

        offered = alice.post(
            "/documents/upload-url", json={"filename": "handbook.txt", "size": len(HANDBOOK)}
        )
        assert offered.status_code == 200, offered.text
        form = offered.json()
        assert form["key"] == "private/alice/handbook.txt"
        sent = httpx.post(form["url"], data=form["fields"], files={"file": ("handbook.txt", HANDBOOK)})
        assert sent.status_code == 204, sent.text

        stored = moto_client("s3", moto_url).get_object(Bucket=BUCKET, Key=form["key"])
        assert stored["Body"].read() == HANDBOOK
        assert stored["Metadata"] == {"uploaded-by": "alice"}
        assert alice.get("/documents").json() == [], "listed only once indexed"

        assert run_the_indexer(moto_url, queue_url, database) == {"batchItemFailures": []}
        [document] = alice.get("/documents").json()
        assert (document["name"], document["workspace"], document["chunk_count"] > 0) == (
            "handbook.txt",
            "private",
            True,
        )
        assert bob.get("/documents").json() == [], "a private document stays its owner's"


def test_the_form_lets_s3_take_only_its_key_its_uploader_and_sizes_up_to_the_limit(bucket_api):
    with signed_in(bucket_api, "alice") as alice:
        form = alice.post(
            "/documents/upload-url",
            json={"filename": "../../etc/notes.md", "size": 10, "workspace": "shared"},
        ).json()
    assert form["key"] == "shared/shared/notes.md", "a path keeps only the file's own name"
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert {"key": form["key"]} in policy["conditions"]
    assert {"x-amz-meta-uploaded-by": "alice"} in policy["conditions"], "the indexer records the uploader"
    assert ["content-length-range", 1, form["max_bytes"]] in policy["conditions"]


@pytest.mark.parametrize(
    ("request_body", "status", "says"),
    [
        ({"filename": "setup.exe", "size": 10}, 415, "cannot be indexed"),
        ({"filename": "huge.pdf", "size": 26 * 1024 * 1024}, 413, "the limit is 25 MB"),
        ({"filename": "a.txt", "size": 10, "workspace": "Not A Workspace"}, 422, "workspace"),
        ({"filename": "a.txt", "size": 0}, 422, "size"),
        ({"filename": "bell\x07.txt", "size": 10}, 422, "control characters"),
    ],
)
def test_a_file_that_could_not_be_indexed_gets_no_form(
    bucket_api, request_body: dict, status: int, says: str
):
    with signed_in(bucket_api, "alice") as alice:
        answer = alice.post("/documents/upload-url", json=request_body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]["message"]


def test_without_a_bucket_the_api_says_where_to_send_the_file(alice: httpx.Client):
    answer = alice.post("/documents/upload-url", json={"filename": "a.txt", "size": 10})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "direct_upload_unavailable"
    assert "POST /documents" in answer.json()["error"]["message"]
    assert alice.get("/limits").json()["max_direct_upload_bytes"] is None


def test_the_apps_client_sends_a_large_file_to_the_bucket(bucket_api, moto_url: str):
    url, secret_file = bucket_api
    token = LocalTokens(local_secret(secret_file)).issue("carol")
    with httpx.Client(base_url=url, timeout=60) as http:
        api = ChatApi(http, token)
        limits = api.limits()
        assert limits.largest_upload_bytes == limits.max_direct_upload_bytes, (
            "the page offers the larger limit"
        )
        form = api.upload_to_bucket("minutes.txt", HANDBOOK, "private")
    stored = moto_client("s3", moto_url).get_object(Bucket=BUCKET, Key=form.key)
    assert (form.key, stored["Body"].read()) == ("private/carol/minutes.txt", HANDBOOK)
