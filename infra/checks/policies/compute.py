"""Rules for code and identity: Lambda, IAM, ECS, Cognito and secrets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from infra.checks.offline import RecordedResource, ResourceGraph
from infra.checks.policies._base import Context, as_list, rule, statements

# --- Lambda -----------------------------------------------------------------------------------

FUNCTION = "aws:lambda/function:Function"


@rule("lambda-url-auth", "Function URLs require IAM auth")
def _lambda_url(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for url in graph.of_type("aws:lambda/functionUrl:FunctionUrl"):
        if url.inputs.get("authorizationType") != "AWS_IAM":
            yield url, f"authorizationType is {url.inputs.get('authorizationType')!r}, not AWS_IAM"


@rule(
    "lambda-bounded",
    "Every function has a timeout, and every SQS trigger a maximum concurrency instead of a reservation",
)
def _lambda_bounded(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    # Reserved concurrency is opt-in: AWS keeps 100 unreserved and a new account's limit is often
    # 10. A streaming function is bounded by its timeout (and the models' max tokens) instead.
    for function in graph.of_type(FUNCTION):
        if not function.inputs.get("timeout"):
            yield function, "timeout is not set (Lambda's default is 3 s; nothing else bounds a stream)"
    for mapping in graph.of_type("aws:lambda/eventSourceMapping:EventSourceMapping"):
        if ":sqs:" not in str(mapping.inputs.get("eventSourceArn", "")):
            continue
        if not mapping.get("scalingConfig", "maximumConcurrency"):
            yield mapping, "an SQS trigger without scalingConfig.maximumConcurrency"
        target = next(
            (f for f in graph.of_type(FUNCTION) if f.arn == mapping.inputs.get("functionName")), None
        )
        if target is not None and target.inputs.get("reservedConcurrentExecutions"):
            yield (
                target,
                "reserved concurrency on an SQS-triggered function throttles its messages into the DLQ",
            )


@rule("log-retention", "Every function logs to a log group with a retention period")
def _lambda_logs(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    groups = {g.physical_name: g for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for function in graph.of_type(FUNCTION):
        name = function.get("loggingConfig", "logGroup") or _default_log_group(graph, function)
        group = groups.get(name)
        if group is None or not group.inputs.get("retentionInDays"):
            yield function, f"log group {name} is not managed here with a retention period"


def _default_log_group(graph: ResourceGraph, function: RecordedResource) -> str:
    """Lambda's own log group name; a Lambda@Edge function (its role trusts edgelambda) logs as
    us-east-1.<name> in each Region that runs it: the stack manages the us-east-1 one."""
    name = function.inputs.get("name")
    role = next((r for r in graph.of_type("aws:iam/role:Role") if r.arn == function.inputs.get("role")), None)
    if role is not None and "edgelambda.amazonaws.com" in str(role.inputs.get("assumeRolePolicy")):
        return f"/aws/lambda/us-east-1.{name}"
    return f"/aws/lambda/{name}"


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
            for statement in statements(policy.inputs.get(key)):
                actions = [str(a) for a in as_list(statement.get("Action", []))]
                resources = [str(r) for r in as_list(statement.get("Resource", []))]
                if statement.get("Effect") == "Allow" and "*" in resources and any("*" in a for a in actions):
                    yield policy, f"allows {', '.join(actions)} on *"
    for attachment in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        if _ADMIN_POLICIES.search(str(attachment.inputs.get("policyArn", ""))):
            yield attachment, f"attaches {attachment.inputs['policyArn']}"


_BEDROCK_MODEL_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:(\d{12})?:(foundation-model|inference-profile)/[A-Za-z0-9.:_-]+$"
)
_BEDROCK_INVOKE = {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}


@rule(
    "bedrock-invoke-scoped",
    "Bedrock grants are InvokeModel(WithResponseStream) on named foundation-model or inference-profile ARNs",
)
def _bedrock_scoped(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for token, key in _POLICY_DOCUMENTS.items():
        for policy in graph.of_type(token):
            for statement in statements(policy.inputs.get(key)):
                actions = [str(a) for a in as_list(statement.get("Action", []))]
                if statement.get("Effect") != "Allow" or not any(a.startswith("bedrock:") for a in actions):
                    continue
                if other := [a for a in actions if a.startswith("bedrock:") and a not in _BEDROCK_INVOKE]:
                    yield policy, f"grants {', '.join(other)} (the chat API only invokes models)"
                for resource in (str(r) for r in as_list(statement.get("Resource", []))):
                    if not _BEDROCK_MODEL_ARN.match(resource):
                        yield policy, f"bedrock on {resource!r}: name each model or inference profile ARN"


# --- EC2 -------------------------------------------------------------------------------------


@rule("ec2-hardened", "EC2 instances (the NAT instance) require IMDSv2 and encrypt their root volume")
def _ec2_hardened(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for instance in graph.of_type("aws:ec2/instance:Instance"):
        if instance.get("metadataOptions", "httpTokens") != "required":
            yield instance, "metadataOptions.httpTokens must be 'required' (IMDSv2 only)"
        if instance.get("rootBlockDevice", "encrypted") is not True:
            yield instance, "rootBlockDevice.encrypted must be true"


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


# --- Secrets ----------------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|api_?key|private_?key|credential)")
_REFERENCE = re.compile(r"^arn:aws[a-z-]*:(secretsmanager|ssm):")
#: Where a function keeps secrets it makes (e.g. CHATBOT_MCP_SECRET_PREFIX): a name path, a reference.
_PREFIX_REFERENCE = re.compile(r"^[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)+$")


def _plain_secrets(env: dict[str, Any]) -> list[str]:
    """Variables whose name says secret and whose value is not a reference (ARN) to one."""
    return [
        name
        for name, value in env.items()
        if _SECRET_NAME.search(name)
        and not name.upper().endswith("_ARN")
        and not _REFERENCE.match(str(value))
        and not (name.upper().endswith("_SECRET_PREFIX") and _PREFIX_REFERENCE.match(str(value)))
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
