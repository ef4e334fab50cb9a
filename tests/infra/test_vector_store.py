"""VectorStore: Postgres in the isolated subnets, the documents bucket, and S3 -> SQS -> indexer."""

from __future__ import annotations

import json

import pytest

from chatbot.errors import ConfigError
from chatbot.postgres import RDS_CA_BUNDLE
from infra.checks.offline import OfflineRun, RecordedResource, ResourceGraph
from infra.checks.offline_stack import offline_run
from infra.components.migration import CHAT_API_ROLE, INDEXER_ROLE
from tests.infra.support import allowed, one, stack_config

RDS = "aws:rds/instance:Instance"


def role_secret(graph: ResourceGraph, role: str) -> RecordedResource:
    return one(graph, "aws:secretsmanager/secret:Secret", f"retrieval-db-{role.replace('_', '-')}-secret")


def test_postgres_is_private_encrypted_backed_up_and_keeps_its_password_in_secrets_manager(
    dev_rds: OfflineRun,
):
    db = one(dev_rds.graph, RDS)
    assert db.inputs["engine"] == "postgres"
    assert db.inputs["engineVersion"] == "16"
    assert db.inputs["publiclyAccessible"] is False
    assert db.inputs["storageEncrypted"] is True
    assert db.inputs["manageMasterUserPassword"] is True
    assert "password" not in db.inputs
    assert db.inputs["backupRetentionPeriod"] == 3
    assert (
        db.inputs["dbSubnetGroupName"] == one(dev_rds.graph, "aws:rds/subnetGroup:SubnetGroup").physical_name
    )


def test_deletion_protection_follows_the_stack(dev_rds: OfflineRun, prod: OfflineRun):
    assert one(dev_rds.graph, RDS).inputs["deletionProtection"] is False
    assert one(dev_rds.graph, RDS).inputs["skipFinalSnapshot"] is True
    prod_db = one(prod.graph, RDS)
    assert prod_db.inputs["deletionProtection"] is True
    assert prod_db.inputs["skipFinalSnapshot"] is False
    assert prod_db.inputs["finalSnapshotIdentifier"] == "chatbot-prod-final"


def test_only_the_functions_reach_postgres(dev_rds: OfflineRun):
    graph = dev_rds.graph
    db_sg = one(graph, "aws:ec2/securityGroup:SecurityGroup", "retrieval-db-sg")
    functions_sg = one(graph, "aws:ec2/securityGroup:SecurityGroup", "network-functions-sg")
    assert [(r["fromPort"], r["securityGroups"]) for r in db_sg.inputs["ingress"]] == [
        (5432, [functions_sg.id])
    ]
    assert one(graph, RDS).inputs["vpcSecurityGroupIds"] == [db_sg.id]


def test_the_documents_bucket_is_locked_down(dev: OfflineRun):
    graph = dev.graph
    bucket = one(graph, "aws:s3/bucket:Bucket", "retrieval-documents")
    block = one(
        graph,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "retrieval-documents-public-access-block",
    )
    assert block.inputs["bucket"] == bucket.id
    assert all(
        block.inputs[k]
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    versioning = one(graph, "aws:s3/bucketVersioning:BucketVersioning", "retrieval-documents-versioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    policy = json.loads(
        one(graph, "aws:s3/bucketPolicy:BucketPolicy", "retrieval-documents-tls-only").inputs["policy"]
    )
    deny = policy["Statement"][0]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [bucket.arn, f"{bucket.arn}/*"]


def test_uploads_flow_through_a_queue_with_a_dead_letter_queue_to_the_indexer(dev: OfflineRun):
    graph = dev.graph
    bucket = one(graph, "aws:s3/bucket:Bucket", "retrieval-documents")
    queue = one(graph, "aws:sqs/queue:Queue", "retrieval-index-queue")
    dlq = one(graph, "aws:sqs/queue:Queue", "retrieval-index-dlq")
    notification = one(graph, "aws:s3/bucketNotification:BucketNotification")
    assert notification.inputs["bucket"] == bucket.id
    assert notification.inputs["queues"][0]["queueArn"] == queue.arn
    assert set(notification.inputs["queues"][0]["events"]) == {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}
    assert json.loads(queue.inputs["redrivePolicy"]) == {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 3}
    queue_policy = json.loads(one(graph, "aws:sqs/queuePolicy:QueuePolicy").inputs["policy"])["Statement"][0]
    assert queue_policy["Condition"] == {"ArnEquals": {"aws:SourceArn": bucket.arn}}
    mapping = one(graph, "aws:lambda/eventSourceMapping:EventSourceMapping")
    indexer = one(graph, "aws:lambda/function:Function", "retrieval-indexer")
    assert mapping.inputs["eventSourceArn"] == queue.arn
    assert mapping.inputs["functionName"] == indexer.arn
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert queue.inputs["visibilityTimeoutSeconds"] >= 6 * indexer.inputs["timeout"]


def test_the_indexer_embeds_with_this_stacks_embeddings_endpoint_only(dev: OfflineRun):
    graph = dev.graph
    embeddings = one(graph, "chatbot:llm:LargeLanguageModel", "retrieval-embeddings")
    assert graph.by_urn(embeddings.parent_urn).type == "chatbot:retrieval:VectorStore"
    endpoint = one(graph, "aws:sagemaker/endpoint:Endpoint", "retrieval-embeddings-endpoint")
    grants = allowed(graph, one(graph, "aws:iam/role:Role", "retrieval-indexer-role"))
    assert grants["sagemaker:InvokeEndpoint"] == {endpoint.arn}
    assert grants["s3:GetObject"] == {f"{one(graph, 'aws:s3/bucket:Bucket', 'retrieval-documents').arn}/*"}
    env = one(graph, "aws:lambda/function:Function", "retrieval-indexer").inputs["environment"]["variables"]
    assert json.loads(env["EMBEDDING_MODEL_SPEC"])["endpoint_name"] == "minilm-l6-dev"
    assert json.loads(env["EMBEDDING_MODEL_SPEC"])["task"] == "embedding"


def test_without_semantic_search_there_is_no_database_bucket_or_indexer():
    run = offline_run("dev", stack_config("dev", semantic_search={"enabled": False}))
    types = {r.type for r in run.graph.resources}
    assert "aws:rds/instance:Instance" not in types
    assert "aws:rds/cluster:Cluster" not in types
    assert "chatbot:retrieval:VectorStore" not in types
    assert (
        "DB_SECRET_ARN"
        not in one(run.graph, "aws:lambda/function:Function", "chat-function").inputs["environment"][
            "variables"
        ]
    )


def test_postgres_is_pinned_to_its_major_version_only(dev_rds: OfflineRun, prod: OfflineRun):
    # A minor pin gets new instances refused once AWS retires it, and drifts after auto upgrades.
    for run in (dev_rds, prod):
        db = one(run.graph, RDS)
        assert db.inputs["engineVersion"] == "16"
        assert db.inputs["autoMinorVersionUpgrade"] is True


def test_the_indexer_is_bounded_by_its_trigger_not_by_reserved_concurrency(dev: OfflineRun):
    # SQS starts 5 pollers whatever the function reserves: a reservation below that throttles
    # messages into the dead-letter queue.
    indexer = one(dev.graph, "aws:lambda/function:Function", "retrieval-indexer")
    mapping = one(dev.graph, "aws:lambda/eventSourceMapping:EventSourceMapping")
    assert "reservedConcurrentExecutions" not in indexer.inputs
    assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": 2}


def test_the_indexer_may_list_the_bucket_so_a_deleted_object_reads_as_missing(dev: OfflineRun):
    # Without s3:ListBucket, S3 answers 403 rather than NoSuchKey for a missing key.
    grants = allowed(dev.graph, one(dev.graph, "aws:iam/role:Role", "retrieval-indexer-role"))
    assert grants["s3:ListBucket"] == {one(dev.graph, "aws:s3/bucket:Bucket", "retrieval-documents").arn}


def test_the_indexer_environment_is_its_settings_model(dev: OfflineRun):
    from lambdas.document_indexer.settings import IndexerSettings

    env = one(dev.graph, "aws:lambda/function:Function", "retrieval-indexer").inputs["environment"][
        "variables"
    ]
    settings = IndexerSettings.from_env(env)
    assert settings.to_env() == env
    assert settings.database.host
    assert settings.database.secret_arn
    assert settings.documents_bucket == dev.outputs["documents_bucket"]


def test_dev_runs_aurora_serverless_v2_that_pauses_at_zero_and_is_as_locked_down(dev: OfflineRun):
    graph = dev.graph
    assert graph.of_type(RDS) == []
    cluster = one(graph, "aws:rds/cluster:Cluster")
    assert cluster.inputs["engine"] == "aurora-postgresql"
    assert cluster.inputs["engineVersion"] == "16.6"  # 16.3+ pauses at 0 ACU
    assert cluster.inputs["serverlessv2ScalingConfiguration"] == {
        "minCapacity": 0,
        "maxCapacity": 2,
        "secondsUntilAutoPause": 300,
    }
    assert cluster.inputs["storageEncrypted"] is True
    assert cluster.inputs["manageMasterUserPassword"] is True
    assert "masterPassword" not in cluster.inputs
    writer = one(graph, "aws:rds/clusterInstance:ClusterInstance")
    assert writer.inputs["instanceClass"] == "db.serverless"
    assert writer.inputs["publiclyAccessible"] is False
    db_sg = one(graph, "aws:ec2/securityGroup:SecurityGroup", "retrieval-db-sg")
    assert cluster.inputs["vpcSecurityGroupIds"] == [db_sg.id]
    env = one(graph, "aws:lambda/function:Function", "chat-function").inputs["environment"]["variables"]
    assert env["DB_HOST"] == "retrieval-db-cluster.cluster-offline.us-east-1.rds.amazonaws.com"
    assert env["DB_SECRET_ARN"] == role_secret(graph, CHAT_API_ROLE).arn


def test_aurora_serverless_takes_only_the_majors_that_pause():
    search = json.loads(stack_config("dev")["chatbot:semantic_search"])
    search["db_engine_version"] = "14"
    with pytest.raises(ConfigError, match="runs PostgreSQL 16 or 15"):
        offline_run("dev", stack_config("dev", semantic_search=search))


@pytest.mark.parametrize("stack", ["dev", "dev_rds"])
def test_migrations_run_once_per_deploy_from_a_function_with_the_master_secret(
    stack: str, request: pytest.FixtureRequest
):
    """No function migrates at a cold start (DB_MIGRATIONS defaults to deploy where DB_SECRET_ARN
    is set): the program invokes a one-shot migration function once the writer exists, and again
    whenever the code changes."""
    run: OfflineRun = request.getfixturevalue(stack)
    graph = run.graph
    function = one(graph, "aws:lambda/function:Function", "retrieval-migrate")
    assert function.inputs["handler"] == "lambdas.document_indexer.migrate.handler"
    indexer = one(graph, "aws:lambda/function:Function", "retrieval-indexer")
    assert function.inputs["code"].path == indexer.inputs["code"].path
    env = function.inputs["environment"]["variables"]
    indexer_env = indexer.inputs["environment"]["variables"]
    master = "rds!cluster-retrieval-db-cluster" if stack == "dev" else "rds!retrieval-db"
    assert env["DB_SECRET_ARN"].endswith(f"secret:{master}")  # the master user's: it runs DDL
    assert {k: v for k, v in env.items() if k not in ("DB_SECRET_ARN", "DB_FUNCTION_ROLES")} == {
        k: v for k, v in indexer_env.items() if k != "DB_SECRET_ARN"
    }
    role_secrets = {role: role_secret(graph, role).arn for role in (CHAT_API_ROLE, INDEXER_ROLE)}
    assert json.loads(env["DB_FUNCTION_ROLES"]) == role_secrets
    role = next(r for r in graph.of_type("aws:iam/role:Role") if r.arn == function.inputs["role"])
    grants = allowed(graph, role)
    assert set(grants) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
    }
    assert grants["secretsmanager:GetSecretValue"] == {env["DB_SECRET_ARN"], *role_secrets.values()}
    assert grants["secretsmanager:PutSecretValue"] == set(role_secrets.values())
    run_once = one(graph, "aws:lambda/invocation:Invocation")
    assert run_once.inputs["functionName"] == function.physical_name
    assert set(run_once.inputs["triggers"]) == {"code", "layers"}
    writer_type = "aws:rds/clusterInstance:ClusterInstance" if stack == "dev" else "aws:rds/instance:Instance"
    assert one(graph, writer_type).urn in run_once.dependencies


def test_the_migration_handler_creates_the_schema_the_functions_then_use(postgres_server_url, monkeypatch):
    from chatbot.postgres import create_database
    from chatbot.retrieval.service import Retrieval
    from lambdas.document_indexer import migrate

    url = create_database(postgres_server_url, "migration_handler_tests")
    monkeypatch.setenv("DATABASE_URL", url)
    assert migrate.handler({"reason": "deploy"})["migrated"] is True
    monkeypatch.setenv("DB_MIGRATIONS", "deploy")
    from lambdas.document_indexer.settings import IndexerSettings

    retrieval = Retrieval.from_environment(IndexerSettings.from_env())
    try:
        assert retrieval.store.list_documents("alice", ["private"]) == []
    finally:
        retrieval.close()


@pytest.mark.parametrize("stack", ["dev", "dev_rds"])
def test_each_function_signs_in_as_its_own_role_reading_only_its_secret_after_the_migration(
    stack: str, request: pytest.FixtureRequest
):
    """Defect 13: not the master secret. The role's secret is empty until the migration writes
    it, so each function starts after the migration ran; each verifies the server's certificate
    against the bundle its layer ships."""
    graph = request.getfixturevalue(stack).graph
    migration = one(graph, "aws:lambda/invocation:Invocation")
    for function_name, role_name, database_role in (
        ("chat-function", "chat-role", CHAT_API_ROLE),
        ("retrieval-indexer", "retrieval-indexer-role", INDEXER_ROLE),
    ):
        function = one(graph, "aws:lambda/function:Function", function_name)
        secret = role_secret(graph, database_role)
        env = function.inputs["environment"]["variables"]
        assert env["DB_SECRET_ARN"] == secret.arn, function_name
        assert env["DB_SSL_ROOT_CERT"] == str(RDS_CA_BUNDLE), function_name
        readable = allowed(graph, one(graph, "aws:iam/role:Role", role_name))["secretsmanager:GetSecretValue"]
        # Of the database's secrets, its own only (the chat API also reads its stack's MCP
        # servers' credentials, under their own prefix: tests/infra/test_mcp_secrets.py).
        assert {arn for arn in readable if ":secret:chatbot-dev/mcp/" not in arn} == {secret.arn}, (
            function_name
        )
        assert migration.urn in function.dependencies, function_name
        assert secret.inputs["recoveryWindowInDays"] == 0  # dev: torn down and made again by name
        assert "secretString" not in secret.inputs  # no password passes through Pulumi


def test_a_protected_stack_keeps_a_deleted_role_secret_recoverable(prod: OfflineRun):
    secret = role_secret(prod.graph, CHAT_API_ROLE)
    assert "recoveryWindowInDays" not in secret.inputs  # AWS's default: 30 days
