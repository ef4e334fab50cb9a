"""Every AWS call the running code makes is allowed by the role policy the Pulumi program writes.

The chat API's and the indexer's policy documents come from the dev stack's mocked graph and are
put on moto IAM users; the history-store contract suite, the model registry and the indexer's S3
and Secrets Manager calls then run with those users' keys, with moto's IAM enforcement on."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from chatbot.api.records import Message, Session
from chatbot.chat.attachments import BlobDeletionError, S3Blobs
from chatbot.chat.dynamodb_store import TABLE_SCHEMA, DynamoDBHistoryStore
from chatbot.models.catalog import ModelCatalog
from chatbot.models.registry import index_item, load_registry, registry_item
from chatbot.postgres import rds_url_from_secret
from infra.build.packaging import RDS_CA_SOURCE
from infra.checks.offline import OfflineRun
from infra.checks.offline_stack import offline_run
from infra.components.migration import CHAT_API_ROLE, INDEXER_ROLE
from tests.chatbot.chat.test_history_store_contract import *  # noqa: F403 (the suite, run again here)
from tests.infra.iam_enforced import (
    REGION,
    EnforcedAws,
    enforced_aws,
    for_moto,
    role_statements,
    use_default_credentials,
)
from tests.infra.support import one

HISTORY, MODELS, BUCKET = "history", "models", "chatbot-documents"


@pytest.fixture(scope="module")
def dev_graph() -> OfflineRun:
    return offline_run("dev")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[EnforcedAws]:
    with enforced_aws(monkeypatch) as aws:
        yield aws


def chat_api_policy(run: OfflineRun, *, leave_out: tuple[str, ...] = ()) -> str:
    graph = run.graph
    renames = {
        one(
            graph, "aws:dynamodb/table:Table", "chat-history"
        ).arn: f"arn:aws:dynamodb:{REGION}:123456789012:table/{HISTORY}",
        one(
            graph, "aws:dynamodb/table:Table", "chat-models"
        ).arn: f"arn:aws:dynamodb:{REGION}:123456789012:table/{MODELS}",
        one(graph, "aws:s3/bucket:Bucket", "retrieval-documents").arn: f"arn:aws:s3:::{BUCKET}",
    }
    statements = role_statements(graph, "chat-role")
    for statement in statements:
        statement["Action"] = [action for action in statement["Action"] if action not in leave_out]
    return for_moto(statements, list(renames.values()), renames)


def history_store_as(
    aws: EnforcedAws, monkeypatch: pytest.MonkeyPatch, document: str
) -> DynamoDBHistoryStore:
    aws.admin.session().resource("dynamodb").create_table(TableName=HISTORY, **TABLE_SCHEMA)
    use_default_credentials(monkeypatch, aws.user("chat-api", document))
    return DynamoDBHistoryStore(HISTORY, region=REGION)


@pytest.fixture
def store(aws: EnforcedAws, monkeypatch: pytest.MonkeyPatch, dev_graph: OfflineRun) -> DynamoDBHistoryStore:
    """The contract suite's store, as the chat API's role."""
    return history_store_as(aws, monkeypatch, chat_api_policy(dev_graph))


def test_a_call_the_role_does_not_allow_fails_here(aws, monkeypatch, dev_graph):
    # The harness catches a missing grant: without BatchWriteItem, deleting a conversation fails.
    store = history_store_as(
        aws, monkeypatch, chat_api_policy(dev_graph, leave_out=("dynamodb:BatchWriteItem",))
    )
    session = store.create_session(Session(user_id="ana"))
    store.append_message("ana", session.id, Message(role="user", content="hello"))
    with pytest.raises(ClientError, match="AccessDenied"):
        store.delete_session("ana", session.id)


def test_the_chat_api_reads_the_model_registry(aws, monkeypatch, dev_graph, catalog: ModelCatalog):
    table = (
        aws.admin.session()
        .resource("dynamodb")
        .create_table(
            TableName=MODELS,
            KeySchema=[{"AttributeName": "model_name", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "model_name", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    )
    for spec in catalog:
        table.put_item(Item=registry_item(spec))
    table.put_item(Item=index_item(catalog.names))
    use_default_credentials(monkeypatch, aws.user("chat-api", chat_api_policy(dev_graph)))
    assert list(load_registry(MODELS, region=REGION)) == list(catalog)


def test_the_chat_api_deletes_a_removed_users_files_and_still_reads_no_document(aws, dev_graph):
    admin = aws.admin.session().client("s3")
    admin.create_bucket(Bucket=BUCKET)
    for key in (
        "private/al/notes.txt",
        "shared/team/plan.txt",
        "attachments/al/a.png",
        "attachments/alice/b.png",
    ):
        admin.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    s3 = aws.user("chat-api", chat_api_policy(dev_graph)).session().client("s3")
    blobs = S3Blobs(s3, BUCKET)
    assert blobs.delete_folder("private/al") == ["private/al/notes.txt"]
    assert blobs.delete("shared/team/plan.txt")
    assert blobs.delete_folder("attachments/al") == ["attachments/al/a.png"]
    left = [item["Key"] for item in admin.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert left == ["attachments/alice/b.png"]
    admin.put_object(Bucket=BUCKET, Key="private/bob/keep.txt", Body=b"bob's")
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.get_object(Bucket=BUCKET, Key="private/bob/keep.txt")  # documents are the indexer's to read


def test_files_the_bucket_refused_to_delete_are_an_error_not_a_count(aws, dev_graph):
    # DeleteObjects answers 200 and lists refused keys in Errors: an erasure must not count them.
    admin = aws.admin.session().client("s3")
    admin.create_bucket(Bucket=BUCKET)
    admin.put_object(Bucket=BUCKET, Key="attachments/al/a.png", Body=b"x")
    s3 = (
        aws.user("chat-api", chat_api_policy(dev_graph, leave_out=("s3:DeleteObject",)))
        .session()
        .client("s3")
    )
    with pytest.raises(BlobDeletionError, match="1 of 1 objects under attachments/al/ were not deleted"):
        S3Blobs(s3, BUCKET).delete_folder("attachments/al")
    assert admin.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1


def indexer_policy(run: OfflineRun, secret_arn: str) -> str:
    graph = run.graph
    bucket = one(graph, "aws:s3/bucket:Bucket", "retrieval-documents")
    graph_secret = one(graph, "aws:lambda/function:Function", "retrieval-indexer").inputs["environment"][
        "variables"
    ]["DB_SECRET_ARN"]
    renames = {bucket.arn: f"arn:aws:s3:::{BUCKET}", graph_secret: secret_arn}
    return for_moto(role_statements(graph, "retrieval-indexer-role"), [secret_arn], renames)


def test_the_indexer_reads_documents_and_writes_none(aws, dev_graph):
    admin = aws.admin.session()
    admin.client("s3").create_bucket(Bucket=BUCKET)
    admin.client("s3").put_object(Bucket=BUCKET, Key="private/ana/notes.txt", Body=b"notes")
    secret_arn = admin.client("secretsmanager").create_secret(Name="rds!db", SecretString="{}")["ARN"]
    s3 = aws.user("indexer", indexer_policy(dev_graph, secret_arn)).session().client("s3")
    assert s3.get_object(Bucket=BUCKET, Key="private/ana/notes.txt")["Body"].read() == b"notes"
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.put_object(Bucket=BUCKET, Key="private/ana/new.txt", Body=b"x")


def test_the_functions_read_the_database_secret(aws, monkeypatch, dev_graph):
    admin = aws.admin.session().client("secretsmanager")
    secret_arn = admin.create_secret(
        Name="rds!db", SecretString=json.dumps({"username": "chatbot_admin", "password": "pw"})
    )["ARN"]
    use_default_credentials(monkeypatch, aws.user("indexer", indexer_policy(dev_graph, secret_arn)))
    url = rds_url_from_secret(
        secret_arn, host="db.example", port=5432, database="chatbot", ssl_root_cert=RDS_CA_SOURCE
    )
    assert "user=chatbot_admin" in url
    assert "password=pw" in url


@pytest.mark.parametrize(
    ("function", "iam_role", "database_role"),
    [
        ("chat-function", "chat-role", CHAT_API_ROLE),
        ("retrieval-indexer", "retrieval-indexer-role", INDEXER_ROLE),
    ],
)
def test_each_function_reads_its_own_database_roles_secret_and_no_other(
    aws, monkeypatch, dev_graph, function: str, iam_role: str, database_role: str
):
    """Defect 13: the chat API and the indexer sign in as their own roles, neither as the master
    user nor as each other, and over verify-full."""
    graph = dev_graph.graph
    admin = aws.admin.session().client("secretsmanager")
    secrets = {}  # the graph's ARN -> the ARN of a moto secret standing in for it
    for role in (CHAT_API_ROLE, INDEXER_ROLE):
        graph_secret = one(
            graph, "aws:secretsmanager/secret:Secret", f"retrieval-db-{role.replace('_', '-')}-secret"
        )
        value = json.dumps({"username": role, "password": f"{role}-pw"})
        secrets[graph_secret.arn] = admin.create_secret(Name=role, SecretString=value)["ARN"]
    master = one(graph, "aws:lambda/function:Function", "retrieval-migrate").inputs["environment"][
        "variables"
    ]
    secrets[master["DB_SECRET_ARN"]] = admin.create_secret(
        Name="rds!cluster", SecretString=json.dumps({"username": "chatbot_admin", "password": "master-pw"})
    )["ARN"]
    own = one(graph, "aws:lambda/function:Function", function)
    own_secret = secrets[own.inputs["environment"]["variables"]["DB_SECRET_ARN"]]
    for number, secret in enumerate(secrets.values()):
        user = aws.user(f"{iam_role}-{number}", for_moto(role_statements(graph, iam_role), [secret], secrets))
        use_default_credentials(monkeypatch, user)
        if secret == own_secret:
            url = rds_url_from_secret(
                secret, host="db.example", port=5432, database="chatbot", ssl_root_cert=RDS_CA_SOURCE
            )
            assert f"user={database_role}" in url
            assert "sslmode=verify-full" in url
        else:
            with pytest.raises(Exception, match="AccessDenied"):
                rds_url_from_secret(
                    secret, host="db.example", port=5432, database="chatbot", ssl_root_cert=RDS_CA_SOURCE
                )
