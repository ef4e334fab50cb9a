"""ChatBackend: the streaming chat API Lambda and its tables, allowed to call this stack's
endpoints and nothing else."""

from __future__ import annotations

import json

from chatbot.chat import dynamodb_store
from chatbot.models import registry
from infra.checks.offline import OfflineRun
from infra.checks.offline_stack import offline_run
from infra.components.chat_backend import WEB_ADAPTER_ENV
from lambdas.chat_api.settings import ChatApiSettings
from lambdas.document_indexer.settings import IndexerSettings
from tests.infra.support import allowed, one, stack_config

FUNCTION = "aws:lambda/function:Function"


def test_the_chat_api_runs_behind_the_lambda_web_adapter(dev: OfflineRun):
    function = one(dev.graph, FUNCTION, "chat-function")
    assert function.inputs["runtime"] == "python3.12"
    assert function.inputs["handler"] == "lambdas/chat_api/run.sh"
    assert (
        function.inputs["layers"][0] == "arn:aws:lambda:us-east-1:753240598075:layer:LambdaAdapterLayerX86:25"
    )
    env = function.inputs["environment"]["variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["PORT"] == "8000"


def test_the_function_url_streams_and_requires_iam(dev: OfflineRun):
    url = one(dev.graph, "aws:lambda/functionUrl:FunctionUrl")
    assert url.inputs["invokeMode"] == "RESPONSE_STREAM"
    assert url.inputs["authorizationType"] == "AWS_IAM"
    assert url.inputs["functionName"] == one(dev.graph, FUNCTION, "chat-function").physical_name


def test_concurrency_timeout_and_log_retention_come_from_the_stack(dev: OfflineRun, prod: OfflineRun):
    for run, concurrency, timeout, retention in ((dev, None, 300, 14), (prod, 50, 600, 90)):
        function = one(run.graph, FUNCTION, "chat-function")
        assert function.inputs.get("reservedConcurrentExecutions") == concurrency
        assert function.inputs["timeout"] == timeout
        logs = one(run.graph, "aws:cloudwatch/logGroup:LogGroup", "chat-logs")
        assert function.inputs["loggingConfig"]["logGroup"] == logs.physical_name
        assert logs.inputs["retentionInDays"] == retention


def test_the_api_verifies_cognito_tokens_and_reads_its_tables(dev: OfflineRun):
    env = one(dev.graph, FUNCTION, "chat-function").inputs["environment"]["variables"]
    pool = one(dev.graph, "aws:cognito/userPool:UserPool")
    client = one(dev.graph, "aws:cognito/userPoolClient:UserPoolClient")
    assert env["CHATBOT_AUTH"] == "cognito"
    assert env["COGNITO_USER_POOL_ID"] == pool.id
    assert env["COGNITO_CLIENT_ID"] == client.id
    assert (
        env["CHATBOT_HISTORY_TABLE"]
        == one(dev.graph, "aws:dynamodb/table:Table", "chat-history").physical_name
    )
    assert (
        env["CHATBOT_MODELS_TABLE"] == one(dev.graph, "aws:dynamodb/table:Table", "chat-models").physical_name
    )
    assert env["DB_SECRET_ARN"].startswith("arn:aws:secretsmanager:")


def test_tables_have_their_keys_recovery_and_encryption(dev: OfflineRun, prod: OfflineRun):
    history = one(dev.graph, "aws:dynamodb/table:Table", "chat-history")
    # The layout the DynamoDB history store reads and writes (its contract tests create the same).
    assert (history.inputs["hashKey"], history.inputs["rangeKey"]) == ("pk", "sk")
    index = history.inputs["globalSecondaryIndexes"][0]
    assert index["name"] == "gsi1"
    assert [k["attributeName"] for k in index["keySchemas"]] == ["gsi1pk", "gsi1sk"]
    assert one(dev.graph, "aws:dynamodb/table:Table", "chat-models").inputs["hashKey"] == "model_name"
    for run, protected in ((dev, False), (prod, True)):
        for table in run.graph.of_type("aws:dynamodb/table:Table"):
            assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
            assert table.inputs["serverSideEncryption"]["enabled"] is True
            assert table.inputs["deletionProtectionEnabled"] is protected


def test_the_api_may_invoke_exactly_this_stacks_endpoints(dev: OfflineRun):
    graph = dev.graph
    grants = allowed(graph, one(graph, "aws:iam/role:Role", "chat-role"))
    endpoints = {e.arn for e in graph.of_type("aws:sagemaker/endpoint:Endpoint")}
    assert (
        len(endpoints) == 2
    )  # the embeddings model and smollm2-135m (scale to zero: tests/infra/test_bedrock.py)
    assert grants["sagemaker:InvokeEndpoint"] == endpoints
    assert grants["sagemaker:InvokeEndpointWithResponseStream"] == endpoints
    history = one(graph, "aws:dynamodb/table:Table", "chat-history").arn
    assert grants["dynamodb:PutItem"] == {history, f"{history}/index/*"}
    assert one(graph, "aws:dynamodb/table:Table", "chat-models").arn not in grants["dynamodb:PutItem"]
    assert all("*" not in resources for action, resources in grants.items())


def test_the_function_environment_fits_lambdas_4_kb_limit(dev: OfflineRun, prod: OfflineRun):
    for run in (dev, prod):
        for function in run.graph.of_type(FUNCTION):
            # (Lambda@Edge takes no environment at all.)
            size = len(json.dumps(function.inputs.get("environment", {}).get("variables", {})).encode())
            assert size < 4096, f"{function.urn}: environment is {size} bytes"


def test_reserved_concurrency_is_opt_in():
    # AWS keeps 100 unreserved and a new account's limit is often 10: any reservation fails there.
    run = offline_run("dev", stack_config("dev", chat_api={"timeout_s": 300}))
    assert "reservedConcurrentExecutions" not in one(run.graph, FUNCTION, "chat-function").inputs


def test_the_environment_is_the_apps_settings_model_plus_the_web_adapters(dev: OfflineRun):
    env = one(dev.graph, FUNCTION, "chat-function").inputs["environment"]["variables"]
    settings = ChatApiSettings.from_env(env)
    adapter = {key: env[key] for key in WEB_ADAPTER_ENV}
    assert {**adapter, **settings.to_env()} == env
    assert settings.history_table
    assert settings.models_table
    assert settings.database.secret_arn


def test_a_stack_without_semantic_search_turns_documents_off():
    # Else the app looks for a database, and would start the embedded one (not in the layer).
    run = offline_run("dev", stack_config("dev", semantic_search={"enabled": False}))
    settings = ChatApiSettings.from_env(
        one(run.graph, FUNCTION, "chat-function").inputs["environment"]["variables"]
    )
    assert settings.documents is False
    assert settings.database.to_env() == {}


def test_uploads_through_the_api_fit_a_function_url_request(dev: OfflineRun):
    # A function URL carries 6 MB, and a binary body arrives base64-encoded (4/3 larger).
    settings = ChatApiSettings.from_env(
        one(dev.graph, FUNCTION, "chat-function").inputs["environment"]["variables"]
    )
    assert settings.max_document_mb * 4 / 3 < 6


def test_larger_files_go_straight_to_the_documents_bucket_under_its_document_folders_only(dev: OfflineRun):
    settings = ChatApiSettings.from_env(
        one(dev.graph, FUNCTION, "chat-function").inputs["environment"]["variables"]
    )
    bucket = one(dev.graph, "aws:s3/bucket:Bucket", "retrieval-documents")
    assert settings.documents_bucket == dev.outputs["documents_bucket"]
    # The form is presigned with the API's role: what the role may put is all a form can.
    grants = allowed(dev.graph, one(dev.graph, "aws:iam/role:Role", "chat-role"))
    assert grants["s3:PutObject"] == {
        f"{bucket.arn}/private/*",
        f"{bucket.arn}/shared/*",
        f"{bucket.arn}/attachments/*",  # files attached to chat turns (issue 23)
    }
    assert grants["s3:GetObject"] == {f"{bucket.arn}/attachments/*"}, "read back: attachments only"
    # A removed user's files go with their data (issue 21): listed and deleted, in the same folders.
    assert grants["s3:DeleteObject"] == grants["s3:PutObject"]
    assert grants["s3:ListBucket"] == {bucket.arn}
    assert {action for action, resources in grants.items() if any(bucket.arn in r for r in resources)} == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:ListBucket",
    }
    indexer = ChatApiSettings.model_fields["max_direct_upload_mb"].default
    assert settings.max_direct_upload_mb == indexer == IndexerSettings().max_document_mb, (
        "the bucket takes what its indexer indexes"
    )


def test_the_api_is_granted_exactly_what_its_stores_call(dev: OfflineRun):
    grants = allowed(dev.graph, one(dev.graph, "aws:iam/role:Role", "chat-role"))
    history = one(dev.graph, "aws:dynamodb/table:Table", "chat-history").arn
    models = one(dev.graph, "aws:dynamodb/table:Table", "chat-models").arn
    for action in dynamodb_store.IAM_ACTIONS:
        assert grants[action] >= {history}, action
    assert {action for action, resources in grants.items() if models in resources} == set(
        registry.IAM_ACTIONS
    )


def test_the_function_waits_for_its_role_policy(dev: OfflineRun):
    function = one(dev.graph, FUNCTION, "chat-function")
    assert one(dev.graph, "aws:iam/rolePolicy:RolePolicy", "chat-policy").urn in function.dependencies
