"""VectorStore: RDS PostgreSQL (pgvector) in the isolated subnets, the documents bucket, and the
indexing path S3 -> SQS (with a dead-letter queue) -> indexer Lambda -> embeddings endpoint -> Postgres.

The schema (CREATE EXTENSION vector, tables, indexes) is made by the deploy's one-shot migration
(infra/components/migration.py) with the master secret, which also makes the roles the chat API and the
indexer sign in as (rows only), each with its own secret; they verify the server's certificate
against the RDS authorities their layers ship.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from chatbot.errors import ConfigError
from chatbot.models.spec import ModelSpec
from chatbot.postgres import RDS_CA_BUNDLE, DatabaseSettings
from infra.build.inference_image import InferenceImage
from infra.build.packaging import LambdaCode
from infra.components.chat_backend import DatabaseAccess, DocumentsBucket
from infra.components.iam import allow, log_statements, policy_document
from infra.components.lambda_function import RUNTIME, function_basics
from infra.components.llm import LargeLanguageModel, LargeLanguageModelArgs
from infra.components.migration import CHAT_API_ROLE, INDEXER_ROLE, database_migration, function_role_secret
from infra.components.network import Network
from infra.components.storage import secure_bucket
from infra.config import SemanticSearchConfig
from lambdas.document_indexer.settings import IndexerSettings

DB_NAME = "chatbot"
DB_PORT = 5432
INDEXER_TIMEOUT_S = 300
#: Aurora PostgreSQL version per major: the first minors that pause at 0 ACU are 16.3 and 15.7
#: (AWS: "Scaling to Zero ACUs with automatic pause and resume"). Aurora upgrades minors itself.
AURORA_POSTGRES_VERSIONS = {"16": "16.6", "15": "15.10"}
#: Indexer invocations at once (the SQS event source's maximum concurrency: 2 is its least).
INDEXER_MAX_CONCURRENCY = 2


@dataclass
class VectorStoreArgs:
    region: str
    stack: str
    project_root: Path
    network: Network
    #: The stack's chatbot:semantic_search section: the embeddings model and the database.
    config: SemanticSearchConfig
    #: The deployed name of the embeddings endpoint (unique per stack).
    embeddings_endpoint_name: str
    indexer_code: LambdaCode
    inference_image: InferenceImage | None = None
    deletion_protection: bool = False
    log_retention_days: int = 30
    aws_profile: str | None = None
    #: The stack's key for SageMaker volumes (infra/components/llm.py VolumeKey); None: the embeddings' own.
    volume_key_arn: pulumi.Input[str] | None = None

    @property
    def embeddings(self) -> ModelSpec:
        if self.config.embeddings is None:
            raise ConfigError("semantic_search.embeddings: a ModelSpec is required for the vector store")
        return self.config.embeddings


def _secret_arn(arn: str | None) -> str:
    """The master user's secret, which RDS makes and keeps (manage_master_user_password)."""
    if arn is None:
        raise ValueError("RDS named no master user secret, though it manages the master password")
    return arn


class VectorStore(pulumi.ComponentResource):
    #: How the chat API reaches the database: as its own role, once the migration has made it.
    database: DatabaseAccess
    #: The master user's (the migration's only).
    master: DatabaseAccess
    documents_bucket_name: pulumi.Output[str]
    documents: DocumentsBucket
    embeddings: LargeLanguageModel

    def __init__(self, name: str, args: VectorStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:retrieval:VectorStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.embeddings = LargeLanguageModel(
            f"{name}-embeddings",
            LargeLanguageModelArgs(
                spec=args.embeddings,
                region=args.region,
                endpoint_name=args.embeddings_endpoint_name,
                project_root=args.project_root,
                inference_image=args.inference_image,
                force_destroy_buckets=not args.deletion_protection,
                aws_profile=args.aws_profile,
                log_retention_days=args.log_retention_days,
                volume_key_arn=args.volume_key_arn,
            ),
            opts=child,
        )
        #: What must exist before the migration runs: the instance that serves the database.
        self._database_ready: list[pulumi.Resource] = []
        self.master = self._database(name, args)
        self.role_secrets = {
            role: function_role_secret(
                name, self, stack=args.stack, role=role, deletion_protection=args.deletion_protection
            )
            for role in (CHAT_API_ROLE, INDEXER_ROLE)
        }
        bucket = secure_bucket(
            f"{name}-documents",
            self,
            force_destroy=not args.deletion_protection,
            protect=args.deletion_protection,
        )
        queue = self._queue(name, bucket)
        migrated = self._indexer(name, args, bucket, queue)
        self.database = DatabaseAccess(
            host=self.master.host,
            port=DB_PORT,
            name=DB_NAME,
            secret_arn=self.role_secrets[CHAT_API_ROLE].arn,
            ready=[migrated],
        )
        self.documents_bucket_name = bucket.bucket
        self.documents = DocumentsBucket(name=bucket.bucket, arn=bucket.arn)
        self.register_outputs(
            {
                "database_host": self.database.host,
                "database_secret_arn": self.master.secret_arn,
                "documents_bucket_name": self.documents_bucket_name,
                "embeddings_endpoint_name": self.embeddings.endpoint_name,
            }
        )

    def _database(self, name: str, args: VectorStoreArgs) -> DatabaseAccess:
        child = pulumi.ResourceOptions(parent=self)
        security_group = aws.ec2.SecurityGroup(
            f"{name}-db-sg",
            vpc_id=args.network.vpc_id,
            description="Postgres, from the Lambda functions only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=DB_PORT,
                    to_port=DB_PORT,
                    security_groups=[args.network.functions_security_group.id],
                )
            ],
            opts=child,
        )
        subnets = aws.rds.SubnetGroup(
            f"{name}-db-subnets", subnet_ids=args.network.isolated_subnet_ids, opts=child
        )
        if args.config.db_engine == "aurora-serverless":
            cluster = self._aurora(name, args, subnets, security_group)
            return DatabaseAccess(
                host=cluster.endpoint,
                port=DB_PORT,
                name=DB_NAME,
                secret_arn=cluster.master_user_secrets.apply(
                    lambda secrets: _secret_arn(secrets[0].secret_arn)
                ),
            )
        db = aws.rds.Instance(
            f"{name}-db",
            engine="postgres",
            # The major only: RDS picks its current minor (it refuses new instances on old ones), and
            # auto_minor_version_upgrade moves it on without the program drifting. pgvector: 15.2+.
            engine_version=args.config.db_engine_version,
            instance_class=args.config.db_instance_class,
            allocated_storage=args.config.db_allocated_storage_gb,
            storage_type="gp3",
            db_name=DB_NAME,
            username="chatbot_admin",
            # RDS creates and rotates the password in Secrets Manager: it never passes through Pulumi.
            manage_master_user_password=True,
            iam_database_authentication_enabled=True,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group.id],
            publicly_accessible=False,
            storage_encrypted=True,
            backup_retention_period=args.config.db_backup_retention_days,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.deletion_protection,
            final_snapshot_identifier=f"chatbot-{args.stack}-final" if args.deletion_protection else None,
            auto_minor_version_upgrade=True,
            copy_tags_to_snapshot=True,
            opts=pulumi.ResourceOptions(parent=self, protect=args.deletion_protection),
        )
        self._database_ready.append(db)
        #: For the alarm on the database's load (infra/components/monitoring.py).
        self.database_metric = ("AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": db.identifier}, 80.0)
        return DatabaseAccess(
            host=db.address,
            port=DB_PORT,
            name=DB_NAME,
            secret_arn=db.master_user_secrets.apply(lambda secrets: _secret_arn(secrets[0].secret_arn)),
        )

    def _aurora(
        self,
        name: str,
        args: VectorStoreArgs,
        subnets: aws.rds.SubnetGroup,
        security_group: aws.ec2.SecurityGroup,
    ) -> aws.rds.Cluster:
        """Aurora PostgreSQL Serverless v2: one writer of class db.serverless, pausing when idle."""
        version = AURORA_POSTGRES_VERSIONS.get(args.config.db_engine_version)
        if version is None:
            raise ConfigError(
                f"semantic_search.db_engine_version {args.config.db_engine_version!r}: Aurora Serverless here "
                f"runs PostgreSQL {' or '.join(AURORA_POSTGRES_VERSIONS)} (the majors that pause at 0 ACU)"
            )
        cluster = aws.rds.Cluster(
            f"{name}-db-cluster",
            engine="aurora-postgresql",
            engine_mode="provisioned",
            engine_version=version,
            database_name=DB_NAME,
            master_username="chatbot_admin",
            manage_master_user_password=True,
            iam_database_authentication_enabled=True,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group.id],
            storage_encrypted=True,
            backup_retention_period=args.config.db_backup_retention_days,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.deletion_protection,
            final_snapshot_identifier=f"chatbot-{args.stack}-final" if args.deletion_protection else None,
            copy_tags_to_snapshot=True,
            serverlessv2_scaling_configuration=aws.rds.ClusterServerlessv2ScalingConfigurationArgs(
                min_capacity=args.config.db_min_acu,
                max_capacity=args.config.db_max_acu,
                seconds_until_auto_pause=args.config.db_auto_pause_s if args.config.db_min_acu == 0 else None,
            ),
            # Aurora applies minor upgrades itself: the pinned version would drift otherwise.
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.deletion_protection, ignore_changes=["engineVersion"]
            ),
        )
        # Serverless v2 capacity near its ceiling: queries slow down, the bill rises.
        self.database_metric = (
            "AWS/RDS",
            "ServerlessDatabaseCapacity",
            {"DBClusterIdentifier": cluster.cluster_identifier},
            0.9 * args.config.db_max_acu,
        )
        self._database_ready.append(
            aws.rds.ClusterInstance(
                f"{name}-db-writer",
                cluster_identifier=cluster.id,
                instance_class="db.serverless",
                engine=cluster.engine.apply(aws.rds.EngineType),
                engine_version=cluster.engine_version,
                db_subnet_group_name=subnets.name,
                publicly_accessible=False,
                auto_minor_version_upgrade=True,
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["engineVersion"]),
            )
        )
        return cluster

    def _queue(self, name: str, bucket: aws.s3.Bucket) -> aws.sqs.Queue:
        child = pulumi.ResourceOptions(parent=self)
        dead_letters = aws.sqs.Queue(
            f"{name}-index-dlq",
            message_retention_seconds=14 * 24 * 3600,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        #: For the alarm on its depth (infra/components/monitoring.py).
        self.dead_letter_queue_name = dead_letters.name
        queue = aws.sqs.Queue(
            f"{name}-index-queue",
            # Lambda's rule: at least six times the function timeout, or messages reappear mid-run.
            visibility_timeout_seconds=6 * INDEXER_TIMEOUT_S,
            sqs_managed_sse_enabled=True,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": dead_letters.arn, "maxReceiveCount": 3}
            ),
            opts=child,
        )
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-index-queue-policy",
            queue_url=queue.url,
            policy=policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "s3.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": queue.arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": bucket.arn}},
                    }
                ]
            ),
            opts=child,
        )
        aws.s3.BucketNotification(
            f"{name}-documents-events",
            bucket=bucket.id,
            queues=[
                aws.s3.BucketNotificationQueueArgs(
                    queue_arn=queue.arn, events=["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[queue_policy]),
        )
        return queue

    def _indexer(
        self, name: str, args: VectorStoreArgs, bucket: aws.s3.Bucket, queue: aws.sqs.Queue
    ) -> aws.lambda_.Invocation:
        """The indexer, and the migration (on the same code and layers) it starts after; returns
        the migration's run."""
        child = pulumi.ResourceOptions(parent=self)
        function_name = f"chatbot-{args.stack}-document-indexer"
        self.indexer_function_name = function_name
        basics = function_basics(
            f"{name}-indexer",
            function_name,
            code=args.indexer_code,
            log_retention_days=args.log_retention_days,
            policy=lambda log_group: policy_document(
                [
                    log_statements(log_group.arn),
                    allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], [queue.arn]),
                    allow(["s3:GetObject"], [pulumi.Output.concat(bucket.arn, "/*")]),
                    # Without it S3 answers 403 instead of NoSuchKey for a deleted object, and a
                    # late notification would retry into the dead-letter queue.
                    allow(["s3:ListBucket"], [bucket.arn]),
                    allow(["sagemaker:InvokeEndpoint"], [self.embeddings.endpoint_arn]),
                    allow(["secretsmanager:GetSecretValue"], [self.role_secrets[INDEXER_ROLE].arn]),
                ]
            ),
            parent=self,
        )
        log_group, role, layers = basics.log_group, basics.role, basics.layers
        migrated = database_migration(
            name,
            self,
            stack=args.stack,
            code=args.indexer_code,
            layers=layers,
            environment=self._environment(args, bucket, self.master.secret_arn),
            secret_arn=self.master.secret_arn,
            role_secrets=self.role_secrets,
            network=args.network,
            log_retention_days=args.log_retention_days,
            database_ready=self._database_ready,
        )
        function = aws.lambda_.Function(
            f"{name}-indexer",
            name=function_name,
            runtime=RUNTIME,
            handler=args.indexer_code.handler,
            code=args.indexer_code.code,
            role=role.arn,
            layers=layers,
            timeout=INDEXER_TIMEOUT_S,
            memory_size=1024,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=self._environment(args, bucket, self.role_secrets[INDEXER_ROLE].arn)
            ),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.network.private_subnet_ids,
                security_group_ids=[args.network.functions_security_group.id],
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
            # Its role signs in with the password the migration puts in its secret.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, basics.policy, migrated]),
        )
        aws.lambda_.EventSourceMapping(
            f"{name}-indexer-trigger",
            event_source_arn=queue.arn,
            function_name=function.arn,
            batch_size=5,
            function_response_types=["ReportBatchItemFailures"],  # one bad file does not redo the batch
            # Bounds the load on the database and the endpoint. Not reserved concurrency: SQS starts
            # 5 pollers whatever it is, and throttled messages would land in the dead-letter queue.
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=INDEXER_MAX_CONCURRENCY
            ),
            opts=child,
        )
        return migrated

    def _environment(
        self, args: VectorStoreArgs, bucket: aws.s3.Bucket, secret_arn: pulumi.Input[str]
    ) -> pulumi.Output[dict[str, str]]:
        """The indexer's settings model, written as its environment, signing in with `secret_arn`."""

        def settings(resolved: dict[str, str]) -> dict[str, str]:
            # The deployed spec (endpoint name included), as the indexer's retrieval code reads it.
            deployed = args.embeddings.model_copy(update={"endpoint_name": resolved["endpoint"]})
            return IndexerSettings(
                database=DatabaseSettings(
                    host=resolved["host"],
                    port=DB_PORT,
                    name=DB_NAME,
                    secret_arn=resolved["secret"],
                    ssl_root_cert=RDS_CA_BUNDLE,
                ),
                embedding_model_spec=deployed.model_dump_json(),
                documents_bucket=resolved["bucket"],
            ).to_env()

        return pulumi.Output.all(
            host=self.master.host,
            secret=secret_arn,
            endpoint=self.embeddings.endpoint_name,
            bucket=bucket.bucket,
        ).apply(settings)
