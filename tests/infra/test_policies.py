"""Security rules: both stacks pass them (dev waives one, with its reason), and each rule fails
when one resource of a real stack is made insecure in the way the rule guards against."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from infra.checks.offline import OfflineRun, RecordedResource, ResourceGraph
from infra.checks.policies import RULES, Context, evaluate
from infra.config import StackConfig
from tests.infra.support import stack_config

#: dev's budget as its stack file sets it; prod declares none.
DEV = Context(production=False, budget_usd_month=float(stack_config("dev")["chatbot:budget_usd_month"]))
PROD = Context(production=True)


def test_prod_passes_every_rule(prod: OfflineRun):
    verdicts = evaluate(prod.graph, PROD)
    assert [str(v) for verdict in verdicts for v in verdict.violations] == []


def test_dev_passes_every_rule_but_the_one_it_waives_with_a_reason(dev: OfflineRun):
    waivers = json.loads(stack_config("dev")["chatbot:security_waivers"])
    verdicts = {v.rule.id: v for v in evaluate(dev.graph, DEV, waivers)}
    assert verdicts["cost-within-budget"].status == "pass"
    assert {rule for rule, v in verdicts.items() if v.status != "pass"} == {"cloudfront-tls"}
    assert verdicts["cloudfront-tls"].status == "waived"
    assert "AWS limit" in verdicts["cloudfront-tls"].waiver
    assert StackConfig.model_fields["security_waivers"]  # waivers are a documented config key


# --- one deliberately insecure resource per rule ----------------------------------------------


def patch(
    graph: ResourceGraph, type_token: str, change: Callable[[dict[str, Any]], Any], name: str | None = None
):
    """A copy of `graph` where the first `type_token` resource (or the one named) has `change`d inputs."""
    target = next(r for r in graph.of_type(type_token) if name is None or r.name == name)
    inputs = copy.deepcopy(target.inputs)
    change(inputs)
    changed = replace(target, inputs=inputs)
    return ResourceGraph([changed if r is target else r for r in graph.resources]), changed


def remove(graph: ResourceGraph, type_token: str, name: str | None = None):
    target = next(r for r in graph.of_type(type_token) if name is None or r.name == name)
    return ResourceGraph([r for r in graph.resources if r is not target]), target


def add(graph: ResourceGraph, type_token: str, inputs: dict[str, Any]):
    extra = RecordedResource(
        type_token, "insecure", f"urn:test::{type_token}::insecure", "", True, inputs, "insecure-id"
    )
    return ResourceGraph([*graph.resources, extra]), extra


def set_(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = inputs
        for key in parents:
            node = node[key]
        node[last] = value

    return change


def pop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs.pop(key, None)


def set_env(secret_name: str) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs["environment"]["variables"].__setitem__(secret_name, "hunter2-plain")


def open_alb_sg(inputs: dict[str, Any]) -> None:
    inputs["ingress"][0]["cidrBlocks"] = ["0.0.0.0/0"]


def forward_by_default(inputs: dict[str, Any]) -> None:
    inputs["defaultActions"] = [{"type": "forward", "targetGroupArn": "tg"}]


def wildcard_policy(inputs: dict[str, Any]) -> None:
    document = json.loads(inputs["policy"])
    document["Statement"].append({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    inputs["policy"] = json.dumps(document)


def bedrock_on_everything(inputs: dict[str, Any]) -> None:
    document = json.loads(inputs["policy"])
    document["Statement"].append({"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"})
    inputs["policy"] = json.dumps(document)


def no_rate_rule(inputs: dict[str, Any]) -> None:
    inputs["rules"] = []


B, RDS = "aws:s3/bucket:Bucket", "aws:rds/instance:Instance"
#: rule id -> (stack, how to make one resource insecure)
INSECURE: dict[str, tuple[str, Callable[[ResourceGraph], tuple[ResourceGraph, RecordedResource]]]] = {
    "rds-not-public": ("prod", lambda g: patch(g, RDS, set_("publiclyAccessible", True))),
    "rds-encrypted": ("prod", lambda g: patch(g, RDS, set_("storageEncrypted", False))),
    "rds-backups": ("prod", lambda g: patch(g, RDS, set_("backupRetentionPeriod", 0))),
    "rds-deletion-protection": ("prod", lambda g: patch(g, RDS, set_("deletionProtection", False))),
    "rds-credentials": ("prod", lambda g: patch(g, RDS, set_("password", "in-the-program"))),
    "s3-public-access-block": (
        "dev",
        lambda g: patch(
            g, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", set_("restrictPublicBuckets", False)
        ),
    ),
    "s3-encryption": (
        "dev",
        lambda g: remove(
            g, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        ),
    ),
    "s3-tls-only": ("dev", lambda g: remove(g, "aws:s3/bucketPolicy:BucketPolicy")),
    "s3-versioning": (
        "dev",
        lambda g: patch(
            g, "aws:s3/bucketVersioning:BucketVersioning", set_("versioningConfiguration.status", "Suspended")
        ),
    ),
    "dynamodb-pitr": (
        "dev",
        lambda g: patch(g, "aws:dynamodb/table:Table", set_("pointInTimeRecovery.enabled", False)),
    ),
    "dynamodb-encryption": (
        "dev",
        lambda g: patch(g, "aws:dynamodb/table:Table", pop("serverSideEncryption")),
    ),
    "sagemaker-endpoint-kms": (
        "dev",
        lambda g: patch(g, "aws:sagemaker/endpointConfiguration:EndpointConfiguration", pop("kmsKeyArn")),
    ),
    "sagemaker-package-isolation": (
        "dev",
        lambda g: patch(
            g,
            "aws:sagemaker/model:Model",
            set_("primaryContainer", {"modelPackageName": "arn:aws:sagemaker:us-east-1:1:model-package/x"}),
        ),
    ),
    "lambda-url-auth": (
        "dev",
        lambda g: patch(g, "aws:lambda/functionUrl:FunctionUrl", set_("authorizationType", "NONE")),
    ),
    "lambda-bounded": (
        "dev",
        lambda g: patch(g, "aws:lambda/eventSourceMapping:EventSourceMapping", pop("scalingConfig")),
    ),
    "log-retention": (
        "dev",
        lambda g: patch(
            g,
            "aws:lambda/function:Function",
            set_("loggingConfig.logGroup", "/aws/lambda/unmanaged"),
            name="chat-function",
        ),
    ),
    "iam-no-wildcards": (
        "dev",
        lambda g: patch(g, "aws:iam/rolePolicy:RolePolicy", wildcard_policy, name="chat-policy"),
    ),
    "bedrock-invoke-scoped": (
        "dev",
        lambda g: patch(g, "aws:iam/rolePolicy:RolePolicy", bedrock_on_everything, name="chat-policy"),
    ),
    "cloudfront-tls": (
        "prod",
        lambda g: patch(
            g,
            "aws:cloudfront/distribution:Distribution",
            set_("viewerCertificate.minimumProtocolVersion", "TLSv1"),
        ),
    ),
    "cloudfront-https-only": (
        "dev",
        lambda g: patch(
            g,
            "aws:cloudfront/distribution:Distribution",
            set_("defaultCacheBehavior.viewerProtocolPolicy", "allow-all"),
        ),
    ),
    "waf-rate-limit": ("dev", lambda g: patch(g, "aws:wafv2/webAcl:WebAcl", no_rate_rule)),
    "alb-cloudfront-only": ("dev", lambda g: patch(g, "aws:lb/listener:Listener", forward_by_default)),
    "sg-no-open-ingress": (
        "dev",
        lambda g: patch(g, "aws:ec2/securityGroup:SecurityGroup", open_alb_sg, name="web-alb-sg"),
    ),
    "ecs-no-public-ip": (
        "dev",
        lambda g: patch(g, "aws:ecs/service:Service", set_("networkConfiguration.assignPublicIp", True)),
    ),
    "cognito-password-policy": (
        "dev",
        lambda g: patch(g, "aws:cognito/userPool:UserPool", set_("passwordPolicy.minimumLength", 8)),
    ),
    "cognito-mfa": (
        "prod",
        lambda g: patch(g, "aws:cognito/userPool:UserPool", set_("mfaConfiguration", "OPTIONAL")),
    ),
    "cognito-no-unauthenticated": (
        "dev",
        lambda g: add(
            g,
            "aws:cognito/identityPool:IdentityPool",
            {"identityPoolName": "guests", "allowUnauthenticatedIdentities": True},
        ),
    ),
    "vpc-flow-logs": ("dev", lambda g: remove(g, "aws:ec2/flowLog:FlowLog")),
    "vpc-default-sg-closed": (
        "dev",
        lambda g: patch(
            g,
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            set_("ingress", [{"protocol": "-1", "self": True}]),
        ),
    ),
    "gateway-behind-cloudfront": (
        "dev",
        lambda g: patch(
            g, "aws:lambda/permission:Permission", set_("principal", "*"), name="gateway-cloudfront-url"
        ),
    ),
    "ec2-hardened": (
        "dev",
        lambda g: patch(g, "aws:ec2/instance:Instance", set_("metadataOptions.httpTokens", "optional")),
    ),
    # Four vCPUs for the web tasks: about $120 a month more, over dev's budget.
    "cost-within-budget": (
        "dev",
        lambda g: patch(g, "aws:ecs/taskDefinition:TaskDefinition", set_("cpu", "4096")),
    ),
    # A scale_to_zero model whose alarm is gone: nothing would ever start a copy.
    "sagemaker-scale-to-zero": (
        "all_kinds",
        lambda g: remove(g, "aws:cloudwatch/metricAlarm:MetricAlarm", name="llm-zero-model-no-capacity"),
    ),
    "secrets-in-secrets-manager": (
        "dev",
        lambda g: patch(g, "aws:lambda/function:Function", set_env("DB_PASSWORD"), name="chat-function"),
    ),
}


def test_every_rule_has_an_insecure_example():
    assert set(INSECURE) == {rule.id for rule in RULES}


@pytest.mark.parametrize("rule_id", sorted(INSECURE))
def test_each_rule_fails_on_its_insecure_example(rule_id: str, request):
    stack, make_insecure = INSECURE[rule_id]
    graph = request.getfixturevalue(stack).graph
    context = PROD if stack == "prod" else DEV
    rule = next(r for r in RULES if r.id == rule_id)
    before = list(rule.check(graph, context))
    assert before == [] or rule_id == "cloudfront-tls", "the stack itself passes"
    insecure_graph, culprit = make_insecure(graph)
    after = list(rule.check(insecure_graph, context))
    assert len(after) > len(before), f"{rule_id} did not notice the insecure {culprit.urn}"
    assert all(insecure_graph.by_urn(v.urn) is not None for v in after), (
        "violations name resources of the stack"
    )


def test_production_rules_do_not_apply_to_dev_stacks(dev: OfflineRun):
    verdicts = {v.rule.id: v for v in evaluate(dev.graph, DEV)}
    assert verdicts["rds-deletion-protection"].status == "pass"
    assert verdicts["cognito-mfa"].status == "pass"
    assert {v.rule.id for v in evaluate(dev.graph, PROD) if v.status == "fail"} >= {
        "rds-deletion-protection",
        "cognito-mfa",
    }


def test_a_key_or_nvme_instance_is_what_satisfies_the_endpoint_kms_rule(all_kinds: OfflineRun):
    verdict = next(v for v in evaluate(all_kinds.graph, DEV) if v.rule.id == "sagemaker-endpoint-kms")
    assert verdict.status == "pass"  # ml.g5 configs carry no key, and that is accepted
    graph, culprit = patch(
        all_kinds.graph,
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        set_("productionVariants", [{"instanceType": "ml.m5.large"}]),
        name="llm-tgi-model-config",
    )
    verdict = next(v for v in evaluate(graph, DEV) if v.rule.id == "sagemaker-endpoint-kms")
    assert [v.urn for v in verdict.violations] == [culprit.urn]


def test_a_scale_to_zero_model_needs_its_instances_to_scale_to_zero_too(all_kinds: OfflineRun):
    rule = next(r for r in RULES if r.id == "sagemaker-scale-to-zero")
    assert list(rule.check(all_kinds.graph, DEV)) == []
    graph, _ = patch(
        all_kinds.graph,
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        lambda inputs: inputs["productionVariants"][0]["managedInstanceScaling"].update(minInstanceCount=1),
        name="llm-zero-model-config",
    )
    messages = [v.message for v in rule.check(graph, DEV)]
    assert len(messages) == 1
    assert "MinInstanceCount 0" in messages[0]


def test_a_scale_to_zero_model_needs_a_step_policy_behind_its_alarm(all_kinds: OfflineRun):
    rule = next(r for r in RULES if r.id == "sagemaker-scale-to-zero")
    graph, _ = remove(
        all_kinds.graph, "aws:appautoscaling/policy:Policy", name="llm-zero-model-copies-from-zero"
    )
    messages = [v.message for v in rule.check(graph, DEV)]
    assert len(messages) == 1
    assert "NoCapacityInvocationFailures" in messages[0]
