"""ChatBackend: the chat API Lambda (FastAPI behind the Lambda Web Adapter, streaming function URL)
and the DynamoDB tables it reads: chat history and the model registry.

Python Lambda cannot stream by itself: the Web Adapter layer runs `run.sh` (uvicorn) and relays
its chunked responses when the function URL is in RESPONSE_STREAM mode (REFERENCE.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from chatbot.chat.dynamodb_store import TABLE_SCHEMA as HISTORY_TABLE_SCHEMA
from infra import regional
from infra.iam import allow, log_statements, policy_document
from infra.lambda_function import function_basics
from infra.llm import LargeLanguageModel
from infra.packaging import LambdaCode

#: The port uvicorn listens on inside the Lambda (run.sh reads $PORT).
APP_PORT = "8000"
ALL_MODELS_KEY = "all-models"


@dataclass
class DatabaseAccess:
    """How a function reaches Postgres: host and the ARN of the RDS-managed secret (never the password)."""

    host: pulumi.Input[str]
    port: int
    name: str
    secret_arn: pulumi.Input[str]


@dataclass
class ChatBackendArgs:
    region: str
    stack: str
    code: LambdaCode
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    #: Every endpoint the API may call (chat models and the embeddings model): nothing else.
    models: list[tuple[str, LargeLanguageModel]] = field(default_factory=list)
    database: DatabaseAccess | None = None
    reserved_concurrency: int = 10
    timeout_s: int = 300
    memory_mb: int = 1024
    log_retention_days: int = 30
    deletion_protection: bool = False
    #: The chat API verifies the Cognito ID tokens the app forwards.
    user_pool_id: pulumi.Input[str] | None = None
    user_pool_client_id: pulumi.Input[str] | None = None


class ChatBackend(pulumi.ComponentResource):
    function_arn: pulumi.Output[str]
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
            log_retention_days=args.log_retention_days,
            policy=lambda log_group: self._policy(args, log_group, history, models_table),
            parent=self,
            layers=[regional.lambda_web_adapter_layer(args.region)],
        )
        log_group, role, layers = basics.log_group, basics.role, basics.layers
        environment: dict[str, pulumi.Input[str]] = {
            "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",  # the Web Adapter wraps the runtime
            "AWS_LWA_INVOKE_MODE": "response_stream",
            "PORT": APP_PORT,
            "CHATBOT_HISTORY_TABLE": history.name,
            "CHATBOT_MODELS_TABLE": models_table.name,
        }
        if args.user_pool_id is not None and args.user_pool_client_id is not None:
            environment |= {
                "CHATBOT_AUTH": "cognito",
                "COGNITO_USER_POOL_ID": args.user_pool_id,
                "COGNITO_CLIENT_ID": args.user_pool_client_id,
            }
        if args.database is not None:
            environment |= {
                "DB_HOST": args.database.host,
                "DB_PORT": str(args.database.port),
                "DB_NAME": args.database.name,
                "DB_SECRET_ARN": args.database.secret_arn,  # the ARN only: the code fetches the secret
            }
        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            runtime="python3.12",
            handler=args.code.handler,
            code=args.code.code,
            role=role.arn,
            layers=layers,
            timeout=args.timeout_s,
            memory_size=args.memory_mb,
            # A streaming Lambda keeps running after its client disconnects: cap the concurrency.
            reserved_concurrent_executions=args.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.subnet_ids, security_group_ids=[args.security_group_id]
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )
        url = aws.lambda_.FunctionUrl(
            f"{name}-url",
            function_name=function.name,
            authorization_type="AWS_IAM",
            invoke_mode="RESPONSE_STREAM",
            opts=child,
        )
        self.function_arn = function.arn
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
        common = {
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
            hash_key="model_name",
            attributes=[aws.dynamodb.TableAttributeArgs(name="model_name", type="S")],
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
        names = [key for key, _ in args.models]
        aws.dynamodb.TableItem(
            f"{name}-model-index",
            table_name=table.name,
            hash_key=table.hash_key,
            item=json.dumps({"model_name": {"S": ALL_MODELS_KEY}, "names": {"L": [{"S": n} for n in names]}}),
            opts=child,
        )

    def _policy(
        self,
        args: ChatBackendArgs,
        log_group: aws.cloudwatch.LogGroup,
        history: aws.dynamodb.Table,
        models_table: aws.dynamodb.Table,
    ) -> pulumi.Output[str]:
        statements = [
            log_statements(log_group.arn),
            allow(
                [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:Query",
                ],
                [history.arn, pulumi.Output.concat(history.arn, "/index/*")],
            ),
            allow(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"], [models_table.arn]),
        ]
        if args.models:
            statements.append(
                allow(
                    ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
                    [model.endpoint_arn for _, model in args.models],
                )
            )
        if args.database is not None:
            statements.append(allow(["secretsmanager:GetSecretValue"], [args.database.secret_arn]))
        return policy_document(statements)
