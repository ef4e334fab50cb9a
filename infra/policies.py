"""Security rules, checked over a stack's whole resource graph (every resource the program registers).

Each rule is a function from the graph to violations; `evaluate` runs them all. A stack may waive a
rule only with a written reason (config `security_waivers`), and the plan prints it next to the rule.
Inputs use the engine's camelCase names, as the mocks record them (infra/offline.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from infra.offline import RecordedResource, ResourceGraph
from infra.regional import has_local_nvme


@dataclass(frozen=True)
class Context:
    #: Production stacks must also protect data from deletion and require MFA.
    production: bool


@dataclass(frozen=True)
class Violation:
    rule: str
    urn: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.urn}: {self.message}"


Check = Callable[[ResourceGraph, Context], Iterator[Violation]]
Finder = Callable[[ResourceGraph, Context], Iterator[tuple[RecordedResource, str]]]


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    check: Check


RULES: list[Rule] = []


def rule(rule_id: str, description: str) -> Callable[[Finder], Check]:
    """Register a check written as a generator of (resource, problem) pairs."""

    def register(func: Finder) -> Check:
        def check(graph: ResourceGraph, context: Context) -> Iterator[Violation]:
            for resource, problem in func(graph, context):
                yield Violation(rule_id, resource.urn, problem)

        RULES.append(Rule(rule_id, description, check))
        return check

    return register


# --- helpers ----------------------------------------------------------------------------------


def _refers_to(value: Any, resource: RecordedResource) -> bool:
    return value in {
        resource.id,
        resource.arn,
        resource.inputs.get("name"),
        resource.inputs.get("bucket"),
    } - {None, ""}


def _companion(
    graph: ResourceGraph, type_token: str, key: str, target: RecordedResource
) -> RecordedResource | None:
    """The resource of `type_token` whose `key` input points at `target` (e.g. a bucket's policy)."""
    return next((r for r in graph.of_type(type_token) if _refers_to(r.inputs.get(key), target)), None)


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


BUCKET = "aws:s3/bucket:Bucket"

# --- RDS --------------------------------------------------------------------------------------

RDS = "aws:rds/instance:Instance"


@rule("rds-not-public", "RDS instances are not publicly accessible")
def _rds_not_public(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for db in graph.of_type(RDS):
        if db.inputs.get("publiclyAccessible") is not False:
            yield db, "publiclyAccessible must be false"


@rule("rds-encrypted", "RDS storage is encrypted")
def _rds_encrypted(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for db in graph.of_type(RDS):
        if db.inputs.get("storageEncrypted") is not True:
            yield db, "storageEncrypted must be true"


@rule("rds-backups", "RDS keeps automated backups")
def _rds_backups(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for db in graph.of_type(RDS):
        if (db.inputs.get("backupRetentionPeriod") or 0) < 1:
            yield db, "backupRetentionPeriod must be at least 1 day"


@rule("rds-deletion-protection", "Production databases refuse deletion")
def _rds_deletion(graph: ResourceGraph, context: Context) -> Iterator[tuple[RecordedResource, str]]:
    for db in graph.of_type(RDS):
        if context.production and db.inputs.get("deletionProtection") is not True:
            yield db, "deletionProtection must be true in production"


@rule(
    "rds-credentials", "RDS uses a Secrets Manager managed password or IAM auth, never a password in config"
)
def _rds_credentials(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for db in graph.of_type(RDS):
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
        block = _companion(graph, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "bucket", bucket)
        if block is None:
            yield bucket, "no BucketPublicAccessBlock"
        elif off := [name for name in settings if block.inputs.get(name) is not True]:
            yield bucket, f"public access block leaves {', '.join(off)} off"


@rule("s3-encryption", "Every bucket encrypts objects at rest")
def _s3_encryption(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    token = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    for bucket in graph.of_type(BUCKET):
        config = _companion(graph, token, "bucket", bucket)
        algorithms = [
            rule_.get("applyServerSideEncryptionByDefault", {}).get("sseAlgorithm")
            for rule_ in (config.inputs.get("rules", []) if config else [])
        ]
        if not any(algorithms):
            yield bucket, "no server-side encryption configuration"


@rule("s3-tls-only", "Every bucket policy denies requests without TLS")
def _s3_tls(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for bucket in graph.of_type(BUCKET):
        policy = _companion(graph, "aws:s3/bucketPolicy:BucketPolicy", "bucket", bucket)
        denies = [
            s
            for s in _statements(policy.inputs.get("policy") if policy else None)
            if s.get("Effect") == "Deny"
            and str(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
        ]
        if not denies:
            yield bucket, "no bucket policy statement denying aws:SecureTransport=false"


@rule("s3-versioning", "Every bucket keeps object versions")
def _s3_versioning(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for bucket in graph.of_type(BUCKET):
        versioning = _companion(graph, "aws:s3/bucketVersioning:BucketVersioning", "bucket", bucket)
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


# --- Lambda -----------------------------------------------------------------------------------

FUNCTION = "aws:lambda/function:Function"


@rule("lambda-url-auth", "Function URLs require IAM auth")
def _lambda_url(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for url in graph.of_type("aws:lambda/functionUrl:FunctionUrl"):
        if url.inputs.get("authorizationType") != "AWS_IAM":
            yield url, f"authorizationType is {url.inputs.get('authorizationType')!r}, not AWS_IAM"


@rule(
    "lambda-reserved-concurrency", "Every function has reserved concurrency (bounds runaway streams and cost)"
)
def _lambda_concurrency(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for function in graph.of_type(FUNCTION):
        if (function.inputs.get("reservedConcurrentExecutions") or 0) < 1:
            yield function, "reservedConcurrentExecutions is not set"


@rule("log-retention", "Every function logs to a log group with a retention period")
def _lambda_logs(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    groups = {g.physical_name: g for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for function in graph.of_type(FUNCTION):
        name = function.get("loggingConfig", "logGroup") or f"/aws/lambda/{function.inputs.get('name')}"
        group = groups.get(name)
        if group is None or not group.inputs.get("retentionInDays"):
            yield function, f"log group {name} is not managed here with a retention period"


# --- IAM --------------------------------------------------------------------------------------

_ADMIN_POLICIES = re.compile(
    r"policy/(AdministratorAccess|PowerUserAccess|AmazonSageMakerFullAccess|IAMFullAccess)$"
)
_POLICY_DOCUMENTS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}


@rule(
    "iam-no-wildcards",
    "No policy allows wildcard actions on all resources; no admin or full-access managed policies",
)
def _iam_wildcards(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for token, key in _POLICY_DOCUMENTS.items():
        for policy in graph.of_type(token):
            for statement in _statements(policy.inputs.get(key)):
                actions = [str(a) for a in _as_list(statement.get("Action", []))]
                resources = [str(r) for r in _as_list(statement.get("Resource", []))]
                if statement.get("Effect") == "Allow" and "*" in resources and any("*" in a for a in actions):
                    yield policy, f"allows {', '.join(actions)} on *"
    for attachment in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        if _ADMIN_POLICIES.search(str(attachment.inputs.get("policyArn", ""))):
            yield attachment, f"attaches {attachment.inputs['policyArn']}"


# --- Edge: CloudFront, ALB, WAF ---------------------------------------------------------------

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


@rule("cloudfront-tls", "CloudFront requires TLS 1.2 or newer from viewers")
def _cloudfront_tls(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for distribution in graph.of_type(DISTRIBUTION):
        version = distribution.get("viewerCertificate", "minimumProtocolVersion") or "TLSv1"
        if distribution.get("viewerCertificate", "cloudfrontDefaultCertificate"):
            yield distribution, "the default *.cloudfront.net certificate allows only the TLSv1 policy"
        elif not version.startswith(("TLSv1.2", "TLSv1.3")):
            yield distribution, f"minimumProtocolVersion is {version}"


@rule("cloudfront-https-only", "Every CloudFront behaviour redirects or restricts viewers to HTTPS")
def _cloudfront_https(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for distribution in graph.of_type(DISTRIBUTION):
        behaviours = [distribution.inputs.get("defaultCacheBehavior", {})]
        behaviours += distribution.inputs.get("orderedCacheBehaviors", []) or []
        for behaviour in behaviours:
            if behaviour.get("viewerProtocolPolicy") not in ("redirect-to-https", "https-only"):
                yield distribution, f"viewerProtocolPolicy {behaviour.get('viewerProtocolPolicy')!r}"


@rule("waf-rate-limit", "CloudFront distributions have a web ACL with a rate-based rule")
def _waf(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    acls = {acl.arn: acl for acl in graph.of_type("aws:wafv2/webAcl:WebAcl")}
    for distribution in graph.of_type(DISTRIBUTION):
        acl = acls.get(distribution.inputs.get("webAclId", ""))
        rules = acl.inputs.get("rules", []) if acl else []
        if not any(r.get("statement", {}).get("rateBasedStatement") for r in rules):
            yield distribution, "no web ACL with a rate-based rule"


def _security_groups(graph: ResourceGraph, ids: Iterable[str]) -> list[RecordedResource]:
    wanted = set(ids)
    return [sg for sg in graph.of_type("aws:ec2/securityGroup:SecurityGroup") if sg.id in wanted]


@rule(
    "alb-cloudfront-only", "Internet-facing load balancers accept only CloudFront, carrying the origin secret"
)
def _alb(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for alb in graph.of_type("aws:lb/loadBalancer:LoadBalancer"):
        if alb.inputs.get("internal"):
            continue
        for sg in _security_groups(graph, alb.inputs.get("securityGroups", [])):
            for ingress in sg.inputs.get("ingress", []):
                if (
                    ingress.get("cidrBlocks")
                    or ingress.get("ipv6CidrBlocks")
                    or not ingress.get("prefixListIds")
                ):
                    yield alb, f"security group {sg.name} admits sources other than a prefix list"
        listeners = [
            l_
            for l_ in graph.of_type("aws:lb/listener:Listener")
            if l_.inputs.get("loadBalancerArn") == alb.arn
        ]
        for listener in listeners:
            if any(action.get("type") == "forward" for action in listener.inputs.get("defaultActions", [])):
                yield alb, f"listener {listener.name} forwards by default (no origin header check)"
            header_rules = [
                r
                for r in graph.of_type("aws:lb/listenerRule:ListenerRule")
                if r.inputs.get("listenerArn") == listener.arn
                and any(c.get("httpHeader") for c in r.inputs.get("conditions", []))
            ]
            if not header_rules:
                yield alb, f"listener {listener.name} has no rule requiring the origin header"


@rule("sg-no-open-ingress", "No security group admits the whole internet")
def _open_ingress(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for sg in graph.of_type("aws:ec2/securityGroup:SecurityGroup"):
        for ingress in sg.inputs.get("ingress", []):
            if "0.0.0.0/0" in ingress.get("cidrBlocks", []) or "::/0" in ingress.get("ipv6CidrBlocks", []):
                yield sg, f"ingress on port {ingress.get('fromPort')} from anywhere"


# --- ECS, Cognito, VPC ------------------------------------------------------------------------


@rule("ecs-no-public-ip", "ECS tasks get no public IP")
def _ecs_public_ip(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for service in graph.of_type("aws:ecs/service:Service"):
        if service.get("networkConfiguration", "assignPublicIp") is not False:
            yield service, "assignPublicIp must be false"


@rule("cognito-password-policy", "User pools require long passwords with mixed character classes")
def _cognito_passwords(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for pool in graph.of_type("aws:cognito/userPool:UserPool"):
        policy = pool.inputs.get("passwordPolicy") or {}
        classes = sum(
            bool(policy.get(k))
            for k in ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols")
        )
        if (policy.get("minimumLength") or 0) < 12 or classes < 3:
            yield pool, "password policy needs minimumLength >= 12 and at least three character classes"


@rule(
    "cognito-mfa", "Production user pools require MFA; no pool allows self sign-up unless the stack says so"
)
def _cognito_mfa(graph: ResourceGraph, context: Context) -> Iterator[tuple[RecordedResource, str]]:
    for pool in graph.of_type("aws:cognito/userPool:UserPool"):
        if context.production and pool.inputs.get("mfaConfiguration") != "ON":
            yield pool, "mfaConfiguration must be ON in production"


@rule("cognito-no-unauthenticated", "Identity pools do not hand out credentials to unauthenticated users")
def _cognito_unauthenticated(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for pool in graph.of_type("aws:cognito/identityPool:IdentityPool"):
        if pool.inputs.get("allowUnauthenticatedIdentities") is not False:
            yield pool, "allowUnauthenticatedIdentities must be false"


@rule("vpc-flow-logs", "Every VPC records flow logs")
def _flow_logs(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for vpc in graph.of_type("aws:ec2/vpc:Vpc"):
        if _companion(graph, "aws:ec2/flowLog:FlowLog", "vpcId", vpc) is None:
            yield vpc, "no FlowLog"


@rule("vpc-default-sg-closed", "Every VPC's default security group has no rules")
def _default_sg(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for vpc in graph.of_type("aws:ec2/vpc:Vpc"):
        default = _companion(graph, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "vpcId", vpc)
        if default is None:
            yield vpc, "the default security group is not managed (AWS leaves it open inside the VPC)"
        elif default.inputs.get("ingress") or default.inputs.get("egress"):
            yield vpc, "the default security group has rules"


# --- Secrets ----------------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|api_?key|private_?key|credential)")
_REFERENCE = re.compile(r"^arn:aws[a-z-]*:(secretsmanager|ssm):")


def _plain_secrets(env: dict[str, Any]) -> list[str]:
    """Variables whose name says secret and whose value is not a reference (ARN) to one."""
    return [
        name
        for name, value in env.items()
        if _SECRET_NAME.search(name)
        and not name.upper().endswith("_ARN")
        and not _REFERENCE.match(str(value))
    ]


@rule(
    "secrets-in-secrets-manager",
    "Secrets reach code through Secrets Manager, never plain environment variables",
)
def _secrets(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for function in graph.of_type(FUNCTION):
        if names := _plain_secrets(function.get("environment", "variables") or {}):
            yield function, f"plain secret environment variables: {', '.join(names)}"
    for model in graph.of_type("aws:sagemaker/model:Model"):
        if names := _plain_secrets(model.get("primaryContainer", "environment") or {}):
            yield model, f"plain secret environment variables: {', '.join(names)}"
    for task in graph.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        for container in json.loads(task.inputs.get("containerDefinitions") or "[]"):
            env = {item["name"]: item.get("value") for item in container.get("environment", [])}
            if names := _plain_secrets(env):
                yield (
                    task,
                    f"container {container.get('name')}: plain secret environment variables: {', '.join(names)}",
                )


# --- evaluation -------------------------------------------------------------------------------


@dataclass
class Verdict:
    rule: Rule
    violations: list[Violation] = field(default_factory=list)
    #: The stack's reason for accepting a failing rule, if it gave one.
    waiver: str | None = None

    @property
    def status(self) -> str:
        if not self.violations:
            return "pass"
        return "waived" if self.waiver else "fail"


def evaluate(graph: ResourceGraph, context: Context, waivers: dict[str, str] | None = None) -> list[Verdict]:
    waivers = waivers or {}
    return [Verdict(r, list(r.check(graph, context)), waivers.get(r.id)) for r in RULES]
