"""Rules for data at rest: RDS, S3, DynamoDB and SageMaker endpoints."""

from __future__ import annotations

from collections.abc import Iterator

from infra.checks.offline import RecordedResource, ResourceGraph
from infra.checks.policies._base import Context, companion, rule, statements
from infra.components.regional import has_local_nvme

BUCKET = "aws:s3/bucket:Bucket"

# --- RDS --------------------------------------------------------------------------------------

RDS = "aws:rds/instance:Instance"
AURORA = "aws:rds/cluster:Cluster"


def _databases(graph: ResourceGraph) -> list[RecordedResource]:
    """What holds the data and its settings: RDS instances and Aurora clusters."""
    return [*graph.of_type(RDS), *graph.of_type(AURORA)]


@rule("rds-not-public", "RDS instances are not publicly accessible")
def _rds_not_public(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for db in [*graph.of_type(RDS), *graph.of_type("aws:rds/clusterInstance:ClusterInstance")]:
        if db.inputs.get("publiclyAccessible") is not False:
            yield db, "publiclyAccessible must be false"


@rule("rds-encrypted", "RDS storage is encrypted")
def _rds_encrypted(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for db in _databases(graph):
        if db.inputs.get("storageEncrypted") is not True:
            yield db, "storageEncrypted must be true"


@rule("rds-backups", "RDS keeps automated backups")
def _rds_backups(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for db in _databases(graph):
        if (db.inputs.get("backupRetentionPeriod") or 0) < 1:
            yield db, "backupRetentionPeriod must be at least 1 day"


@rule("rds-deletion-protection", "Production databases refuse deletion")
def _rds_deletion(graph: ResourceGraph, context: Context) -> Iterator[tuple[RecordedResource, str]]:
    for db in _databases(graph):
        if context.production and db.inputs.get("deletionProtection") is not True:
            yield db, "deletionProtection must be true in production"


@rule(
    "rds-credentials", "RDS uses a Secrets Manager managed password or IAM auth, never a password in config"
)
def _rds_credentials(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for db in _databases(graph):
        if db.inputs.get("password"):
            yield db, "a master password is set in the program; use manageMasterUserPassword"
        elif not (
            db.inputs.get("manageMasterUserPassword") or db.inputs.get("iamDatabaseAuthenticationEnabled")
        ):
            yield db, "neither manageMasterUserPassword nor iamDatabaseAuthenticationEnabled is set"


# --- S3 ---------------------------------------------------------------------------------------


@rule("s3-public-access-block", "Every bucket blocks public access (all four settings)")
def _s3_public(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    settings = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in graph.of_type(BUCKET):
        block = companion(graph, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "bucket", bucket)
        if block is None:
            yield bucket, "no BucketPublicAccessBlock"
        elif off := [name for name in settings if block.inputs.get(name) is not True]:
            yield bucket, f"public access block leaves {', '.join(off)} off"


@rule("s3-encryption", "Every bucket encrypts objects at rest")
def _s3_encryption(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    token = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    for bucket in graph.of_type(BUCKET):
        config = companion(graph, token, "bucket", bucket)
        algorithms = [
            rule_.get("applyServerSideEncryptionByDefault", {}).get("sseAlgorithm")
            for rule_ in (config.inputs.get("rules", []) if config else [])
        ]
        if not any(algorithms):
            yield bucket, "no server-side encryption configuration"


@rule("s3-tls-only", "Every bucket policy denies requests without TLS")
def _s3_tls(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for bucket in graph.of_type(BUCKET):
        policy = companion(graph, "aws:s3/bucketPolicy:BucketPolicy", "bucket", bucket)
        denies = [
            s
            for s in statements(policy.inputs.get("policy") if policy else None)
            if s.get("Effect") == "Deny"
            and str(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
        ]
        if not denies:
            yield bucket, "no bucket policy statement denying aws:SecureTransport=false"


@rule("s3-versioning", "Every bucket keeps object versions")
def _s3_versioning(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for bucket in graph.of_type(BUCKET):
        versioning = companion(graph, "aws:s3/bucketVersioning:BucketVersioning", "bucket", bucket)
        if not versioning or versioning.get("versioningConfiguration", "status") != "Enabled":
            yield bucket, "versioning is not Enabled"


# --- DynamoDB ---------------------------------------------------------------------------------


@rule("dynamodb-pitr", "DynamoDB tables have point-in-time recovery")
def _dynamo_pitr(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for table in graph.of_type("aws:dynamodb/table:Table"):
        if table.get("pointInTimeRecovery", "enabled") is not True:
            yield table, "pointInTimeRecovery.enabled must be true"


@rule("dynamodb-encryption", "DynamoDB tables are encrypted with KMS")
def _dynamo_encryption(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for table in graph.of_type("aws:dynamodb/table:Table"):
        if table.get("serverSideEncryption", "enabled") is not True:
            yield table, "serverSideEncryption.enabled must be true"


# --- SageMaker --------------------------------------------------------------------------------


@rule(
    "sagemaker-endpoint-kms", "Endpoint configs encrypt storage with KMS (hardware-encrypted NVMe excepted)"
)
def _sagemaker_kms(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for config in graph.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration"):
        types = [variant.get("instanceType", "") for variant in config.inputs.get("productionVariants", [])]
        if not config.inputs.get("kmsKeyArn") and not all(has_local_nvme(t) for t in types):
            yield config, f"no kmsKeyArn, and {', '.join(types)} has no hardware-encrypted local storage"


@rule("sagemaker-package-isolation", "Model packages run with network isolation")
def _sagemaker_isolation(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for model in graph.of_type("aws:sagemaker/model:Model"):
        if (
            model.get("primaryContainer", "modelPackageName")
            and model.inputs.get("enableNetworkIsolation") is not True
        ):
            yield model, "a model package must run with enableNetworkIsolation"
