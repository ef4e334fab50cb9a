"""ChatBackend: the chat API Lambda (FastAPI behind the Lambda Web Adapter, streaming function URL)
and the DynamoDB tables it reads: chat history and the model registry.

Python Lambda cannot stream by itself: the Web Adapter layer runs `run.sh` (uvicorn) and relays
its chunked responses when the function URL is in RESPONSE_STREAM mode (docs/REFERENCE.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from chatbot.chat import dynamodb_store
from chatbot.chat.dynamodb_store import TABLE_SCHEMA as HISTORY_TABLE_SCHEMA
from chatbot.models import registry
from chatbot.policy.limits import LimitsConfig
from chatbot.postgres import RDS_CA_BUNDLE, DatabaseSettings
from chatbot.retrieval import object_keys
from infra.build.packaging import LambdaCode
from infra.components import regional
from infra.components.iam import allow, log_statements, policy_document
from infra.components.lambda_function import RUNTIME, function_basics
from infra.components.llm import LargeLanguageModel
from infra.components.mcp_secrets import mcp_secret_statements, secret_prefix
from infra.config import ChatApiConfig
from infra.models import bedrock
from infra.models.bedrock import BedrockModel
from lambdas.chat_api.settings import FUNCTION_URL_UPLOAD_MB, ChatApiSettings

#: The Lambda Web Adapter's own contract (not the app's settings): it wraps the runtime, relays
#: responses as a stream, and forwards invocations to the app on PORT (run.sh reads it).
WEB_ADAPTER_ENV = {
    "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
    "AWS_LWA_INVOKE_MODE": "response_stream",
    "PORT": "8000",
}


class _TableDefaults(TypedDict):
    """What both tables are made with."""

    billing_mode: str
    point_in_time_recovery: aws.dynamodb.TablePointInTimeRecoveryArgs
    server_side_encryption: aws.dynamodb.TableServerSideEncryptionArgs
    deletion_protection_enabled: bool


@dataclass
class DatabaseAccess:
    """How a function reaches Postgres: host and the ARN of its role's secret (never the password)."""

    host: pulumi.Input[str]
    port: int
    name: str
    secret_arn: pulumi.Input[str]
    #: What must have run before the function starts: the migration that gives the secret a value.
    ready: list[pulumi.Resource] = field(default_factory=list)


@dataclass
class DocumentsBucket:
    """The bucket the indexer indexes: the chat API hands out presigned POSTs into it for files
    too large for a request (its role may put objects under the key layout's folders, nothing else)."""

    name: pulumi.Input[str]
    arn: pulumi.Input[str]


@dataclass
class ChatBackendArgs:
    region: str
    stack: str
    code: LambdaCode
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    #: Every model the API may call (SageMaker endpoints, the embeddings one included, and Bedrock
    #: models): nothing else.
    models: list[tuple[str, LargeLanguageModel | BedrockModel]] = field(default_factory=list)
    database: DatabaseAccess | None = None
    documents_bucket: DocumentsBucket | None = None
    #: The stack's chatbot:chat_api section (reserved concurrency, timeout, memory, log retention).
    config: ChatApiConfig = field(default_factory=ChatApiConfig)
    deletion_protection: bool = False
    #: The chat API verifies the Cognito ID tokens the app forwards.
    user_pool_id: pulumi.Input[str] | None = None
    user_pool_client_id: pulumi.Input[str] | None = None
    #: The stack's default limits per role (`chatbot:limits`), as CHATBOT_LIMITS.
    limits: LimitsConfig | None = None


class ChatBackend(pulumi.ComponentResource):
    function_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]
    function_url: pulumi.Output[str]
    history_table_name: pulumi.Output[str]
    models_table_name: pulumi.Output[str]

    def __init__(self, name: str, args: ChatBackendArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:chat:ChatBackend", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        history, models_table = self._tables(name, args)
        self._registry(name, args, models_table)

        function_name = f"chatbot-{args.stack}-chat-api"
        basics = function_basics(
            name,
            function_name,
            code=args.code,
            log_retention_days=args.config.log_retention_days,
            policy=lambda log_group: self._policy(args, log_group, history, models_table),
            parent=self,
            layers=[regional.lambda_web_adapter_layer(args.region)],
        )
        log_group, role, layers = basics.log_group, basics.role, basics.layers
        environment = self._environment(args, history, models_table)
        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            runtime=RUNTIME,
            handler=args.code.handler,
            code=args.code.code,
            role=role.arn,
            layers=layers,
            timeout=args.config.timeout_s,
            memory_size=args.config.memory_mb,
            # Opt-in (a new account's whole limit is often 10, and AWS keeps 100 unreserved): the
            # timeout and each model's max_new_tokens_limit bound a stream whose client has left.
            reserved_concurrent_executions=args.config.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.subnet_ids, security_group_ids=[args.security_group_id]
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[log_group, basics.policy, *(args.database.ready if args.database else [])],
            ),
        )
        url = aws.lambda_.FunctionUrl(
            f"{name}-url",
            function_name=function.name,
            authorization_type="AWS_IAM",
            invoke_mode="RESPONSE_STREAM",
            opts=child,
        )
        self.function_arn = function.arn
        self.function_name = function.name
        self.function_url = url.function_url
        self.history_table_name = history.name
        self.models_table_name = models_table.name
        self.register_outputs(
            {
                "function_arn": self.function_arn,
                "function_url": self.function_url,
                "history_table_name": self.history_table_name,
                "models_table_name": self.models_table_name,
            }
        )

    def _tables(self, name: str, args: ChatBackendArgs) -> tuple[aws.dynamodb.Table, aws.dynamodb.Table]:
        child = pulumi.ResourceOptions(parent=self, protect=args.deletion_protection)
        common: _TableDefaults = {
            "billing_mode": "PAY_PER_REQUEST",
            "point_in_time_recovery": aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            "server_side_encryption": aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            "deletion_protection_enabled": args.deletion_protection,
        }
        # The history store's own layout (chatbot/chat/dynamodb_store.py): sessions and their
        # messages as separate items under the user's key, and an index listing sessions newest first.
        keys = {key["KeyType"]: key["AttributeName"] for key in HISTORY_TABLE_SCHEMA["KeySchema"]}
        history = aws.dynamodb.Table(
            f"{name}-history",
            hash_key=keys["HASH"],
            range_key=keys["RANGE"],
            attributes=[
                aws.dynamodb.TableAttributeArgs(
                    name=attribute["AttributeName"], type=attribute["AttributeType"]
                )
                for attribute in HISTORY_TABLE_SCHEMA["AttributeDefinitions"]
            ],
            global_secondary_indexes=[
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=index["IndexName"],
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                            attribute_name=key["AttributeName"], key_type=key["KeyType"]
                        )
                        for key in index["KeySchema"]
                    ],
                    projection_type=index["Projection"]["ProjectionType"],
                )
                for index in HISTORY_TABLE_SCHEMA["GlobalSecondaryIndexes"]
            ],
            opts=child,
            **common,
        )
        # sagemaker-fastchat's registry: partition key model_name.
        models_table = aws.dynamodb.Table(
            f"{name}-models",
            hash_key=registry.KEY,
            attributes=[aws.dynamodb.TableAttributeArgs(name=registry.KEY, type="S")],
            opts=child,
            **common,
        )
        return history, models_table

    def _registry(self, name: str, args: ChatBackendArgs, table: aws.dynamodb.Table) -> None:
        child = pulumi.ResourceOptions(parent=self)
        for key, model in args.models:
            aws.dynamodb.TableItem(
                f"{name}-model-{key}",
                table_name=table.name,
                hash_key=table.hash_key,
                item=model.registry_item,
                opts=child,
            )
        aws.dynamodb.TableItem(
            f"{name}-model-index",
            table_name=table.name,
            hash_key=table.hash_key,
            item=registry.as_dynamodb_json(registry.index_item([key for key, _ in args.models])),
            opts=child,
        )

    def _environment(
        self, args: ChatBackendArgs, history: aws.dynamodb.Table, models_table: aws.dynamodb.Table
    ) -> pulumi.Output[dict[str, str]]:
        """The function's environment: the Web Adapter's, then the app's own settings model."""
        database = args.database
        values: dict[str, Any] = {"history": history.name, "models": models_table.name}
        if args.user_pool_id is not None and args.user_pool_client_id is not None:
            values |= {"pool": args.user_pool_id, "client": args.user_pool_client_id}
        if database is not None:
            values |= {"db_host": database.host, "db_secret": database.secret_arn}
        if args.documents_bucket is not None:
            values["bucket"] = args.documents_bucket.name

        def settings(resolved: dict[str, Any]) -> dict[str, str]:
            chosen: dict[str, Any] = {
                "history_table": resolved["history"],
                "models_table": resolved["models"],
                "mcp_secret_prefix": secret_prefix(args.stack),
            }
            if "pool" in resolved:
                chosen |= {
                    "auth": "cognito",
                    "cognito_user_pool_id": resolved["pool"],
                    "cognito_client_id": resolved["client"],
                }
            if args.limits is not None:
                chosen["limits_json"] = args.limits.model_dump_json()
            if database is None:
                chosen["documents"] = False  # no database, no embedded one either: documents off
            else:
                chosen["max_document_mb"] = FUNCTION_URL_UPLOAD_MB
                chosen["database"] = DatabaseSettings(
                    host=resolved["db_host"],
                    port=database.port,
                    name=database.name,
                    secret_arn=resolved["db_secret"],  # the ARN only: the code fetches the secret
                    ssl_root_cert=RDS_CA_BUNDLE,
                )
                if "bucket" in resolved:
                    chosen["documents_bucket"] = resolved["bucket"]
            return {**WEB_ADAPTER_ENV, **ChatApiSettings(**chosen).to_env()}

        return pulumi.Output.all(**values).apply(settings)

    def _policy(
        self,
        args: ChatBackendArgs,
        log_group: aws.cloudwatch.LogGroup,
        history: aws.dynamodb.Table,
        models_table: aws.dynamodb.Table,
    ) -> pulumi.Output[str]:
        statements = [
            log_statements(log_group.arn),
            # Exactly the calls the stores make, as they declare them.
            allow(
                list(dynamodb_store.IAM_ACTIONS),
                [history.arn, pulumi.Output.concat(history.arn, "/index/*")],
            ),
            allow(list(registry.IAM_ACTIONS), [models_table.arn]),
            *mcp_secret_statements(args.region, bedrock.caller_account(self), args.stack),
        ]
        endpoints = [model for _, model in args.models if isinstance(model, LargeLanguageModel)]
        if endpoints:
            statements.append(
                allow(
                    ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
                    [model.endpoint_arn for model in endpoints],
                )
            )
        if bedrock_specs := [model.spec for _, model in args.models if isinstance(model, BedrockModel)]:
            statements += bedrock.invoke_statements(bedrock_specs, args.region, bedrock.caller_account(self))
        if args.user_pool_id is not None:
            # The API asks the pool whether a caller is still enabled (lambdas/chat_api/auth.py).
            pool_arn = pulumi.Output.concat(
                "arn:aws:cognito-idp:",
                args.region,
                ":",
                bedrock.caller_account(self),
                ":userpool/",
                args.user_pool_id,
            )
            statements.append(allow(["cognito-idp:ListUsers"], [pool_arn]))  # CognitoAccounts.IAM_ACTIONS
        if args.database is not None:
            statements.append(allow(["secretsmanager:GetSecretValue"], [args.database.secret_arn]))
        if args.documents_bucket is not None:
            # A presigned POST uploads with this role's rights: objects in the key layout's
            # folders only (the API signs one key in the caller's own folder per form).
            arn = args.documents_bucket.arn
            statements.append(
                allow(
                    ["s3:PutObject"],
                    [pulumi.Output.concat(arn, f"/{top}/*") for top in object_keys.TOP_FOLDERS],
                )
            )
            # Files attached to chat turns (chatbot/chat/attachments.py): written and read back
            # by the API under their own folder, which the indexer skips.
            attachments = pulumi.Output.concat(arn, f"/{object_keys.ATTACHMENTS_FOLDER}/*")
            statements.append(allow(["s3:PutObject", "s3:GetObject"], [attachments]))
            # A removed user's files go with their data (chatbot/chat/erasure.py): listed by
            # their folder, then deleted, in these folders only.
            folders = [*object_keys.TOP_FOLDERS, object_keys.ATTACHMENTS_FOLDER]
            statements.append(
                allow(["s3:DeleteObject"], [pulumi.Output.concat(arn, f"/{top}/*") for top in folders])
            )
            statements.append(
                allow(
                    ["s3:ListBucket"], [arn], {"StringLike": {"s3:prefix": [f"{top}/*" for top in folders]}}
                )
            )
        return policy_document(statements)
