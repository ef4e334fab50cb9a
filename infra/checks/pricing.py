"""Estimated monthly cost of a stack at idle, from its resource graph and a pinned price table.

The table is dated and for one region: on-demand list prices in USD, copied by hand from AWS's
public price pages. It is an estimate for comparing stacks and spotting idle spend (SageMaker
instances run, and bill, around the clock), not a quote: check the AWS Pricing Calculator before
budgeting, and update the table (and its date) in one reviewed change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from chatbot.models.deployment import BedrockDeployment
from chatbot.models.spec import ModelSpec

# Model hosting prices live in the core library: the chat API's leaderboard reads them too.
from chatbot.pricing import (  # noqa: F401
    BEDROCK_INPUT_PER_1K_TOKENS,
    BEDROCK_OUTPUT_PER_1K_TOKENS,
    PRICES_AS_OF,
    PRICES_REGION,
    SAGEMAKER_HOURLY,
    bedrock_model_key,
)
from infra.checks.offline import RecordedResource, ResourceGraph

HOURS_PER_MONTH = 730
#: SageMaker Serverless Inference, per GB-second of compute (x86; nothing while idle).
SAGEMAKER_SERVERLESS_GB_SECOND = 0.0000200

#: RDS PostgreSQL single-AZ, per instance-hour.
RDS_HOURLY = {"db.t4g.micro": 0.016, "db.t4g.small": 0.032, "db.t4g.medium": 0.065, "db.m7g.large": 0.168}
RDS_GP3_GB_MONTH = 0.115
#: Aurora Serverless v2: per ACU-hour while it runs (nothing while paused at 0 ACU), and storage as
#: used. A new cluster's volume is small; the estimate assumes this much (documents grow it).
AURORA_ACU_HOURLY = 0.12
AURORA_GB_MONTH = 0.10
AURORA_ASSUMED_GB = 10
#: EC2 on-demand, per instance-hour (the NAT instance), and its gp3 root volume.
EC2_HOURLY = {"t4g.nano": 0.0042, "t4g.micro": 0.0084, "t4g.small": 0.0168}
EBS_GP3_GB_MONTH = 0.08
NAT_GATEWAY_HOURLY = 0.045
PUBLIC_IPV4_HOURLY = 0.005
INTERFACE_ENDPOINT_AZ_HOURLY = 0.01
ALB_HOURLY = 0.0225
ALB_LCU_HOURLY = 0.008  # one LCU assumed at low traffic
FARGATE_VCPU_HOURLY = 0.04048
FARGATE_GB_HOURLY = 0.004445
#: Fargate on Graviton (Linux/ARM): 20% less than x86.
FARGATE_ARM_VCPU_HOURLY = 0.03238
FARGATE_ARM_GB_HOURLY = 0.00356
WAF_WEB_ACL_MONTHLY = 5.0
WAF_RULE_MONTHLY = 1.0
KMS_KEY_MONTHLY = 1.0
SECRET_MONTHLY = 0.40
#: A standard-resolution CloudWatch metric alarm (the first 10 of an account are free: not counted).
CLOUDWATCH_ALARM_MONTHLY = 0.10
#: A high-resolution alarm; target tracking on a high-resolution metric creates two of them
#: (scale out, scale in) that the graph does not show.
CLOUDWATCH_HIGH_RESOLUTION_ALARM_MONTHLY = 0.30
#: Pay-per-use services cost nothing at idle; their rates are shown so users can scale the estimate.
USAGE_PRICED = {
    "CloudFront": "$0 base; $0.085/GB out and $0.01 per 10k HTTPS requests (first 1 TB/month free)",
    "Lambda": "$0 base; $0.20 per 1M requests plus $0.0000166667 per GB-second (streaming included)",
    "DynamoDB": "$0 base; on-demand $1.25 per 1M writes, $0.25 per 1M reads, $0.25/GB-month",
    "NAT data": "$0.045 per GB processed on top of the hourly charge",
}


@dataclass(frozen=True)
class CostLine:
    item: str
    monthly_usd: float | None  # None: no price in the table
    detail: str


def estimate(graph: ResourceGraph) -> list[CostLine]:
    lines: list[CostLine] = []
    lines += _sagemaker(graph)
    lines += _bedrock(graph)
    for _ in graph.of_type("aws:ec2/natGateway:NatGateway"):
        lines.append(
            CostLine("NAT gateway", NAT_GATEWAY_HOURLY * HOURS_PER_MONTH, "hourly charge, no traffic")
        )
    instances = graph.of_type("aws:ec2/instance:Instance")
    public_ips = (
        len(graph.of_type("aws:ec2/eip:Eip"))
        + 2 * len(graph.of_type("aws:lb/loadBalancer:LoadBalancer"))
        + sum(1 for instance in instances if instance.inputs.get("associatePublicIpAddress"))
    )
    for instance in instances:
        kind = str(instance.inputs.get("instanceType"))
        volume = float(instance.get("rootBlockDevice", "volumeSize") or 8)
        hourly = EC2_HOURLY.get(kind)
        lines.append(
            CostLine(
                f"EC2 {instance.name}",
                None if hourly is None else hourly * HOURS_PER_MONTH + volume * EBS_GP3_GB_MONTH,
                f"{kind}, {volume:g} GB gp3",
            )
        )
    if alarms := graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        lines.append(
            CostLine(
                "CloudWatch alarms",
                len(alarms) * CLOUDWATCH_ALARM_MONTHLY,
                f"{len(alarms)} alarms at ${CLOUDWATCH_ALARM_MONTHLY}/month; the budget itself is free",
            )
        )
    if public_ips:
        lines.append(
            CostLine(
                "Public IPv4 addresses",
                public_ips * PUBLIC_IPV4_HOURLY * HOURS_PER_MONTH,
                f"{public_ips} addresses",
            )
        )
    for endpoint in graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"):
        if endpoint.inputs.get("vpcEndpointType") == "Interface":
            azs = len(endpoint.inputs.get("subnetIds", []))
            service = str(endpoint.inputs.get("serviceName", "")).split(".", 3)[-1]  # com.amazonaws.<region>.
            why = (endpoint.inputs.get("tags") or {}).get("why", "")
            lines.append(
                CostLine(
                    f"VPC endpoint {service}",
                    azs * INTERFACE_ENDPOINT_AZ_HOURLY * HOURS_PER_MONTH,
                    f"{azs} AZ{'s' if azs != 1 else ''}" + (f": {why}" if why else ""),
                )
            )
    lines += _rds(graph)
    lines += _fargate(graph)
    for _ in graph.of_type("aws:lb/loadBalancer:LoadBalancer"):
        lines.append(
            CostLine("Application Load Balancer", (ALB_HOURLY + ALB_LCU_HOURLY) * HOURS_PER_MONTH, "1 LCU")
        )
    for acl in graph.of_type("aws:wafv2/webAcl:WebAcl"):
        rules = len(acl.inputs.get("rules", []))
        lines.append(
            CostLine(
                "WAF web ACL", WAF_WEB_ACL_MONTHLY + rules * WAF_RULE_MONTHLY, f"{rules} rules, no requests"
            )
        )
    keys = len(graph.of_type("aws:kms/key:Key"))
    if keys:
        lines.append(CostLine("KMS keys", keys * KMS_KEY_MONTHLY, f"{keys} keys"))
    secrets = len(graph.of_type("aws:secretsmanager/secret:Secret")) + sum(
        1
        for db in [*graph.of_type("aws:rds/instance:Instance"), *graph.of_type("aws:rds/cluster:Cluster")]
        if db.inputs.get("manageMasterUserPassword")
    )
    if secrets:
        lines.append(CostLine("Secrets Manager", secrets * SECRET_MONTHLY, f"{secrets} secrets"))
    for service, rate in USAGE_PRICED.items():
        lines.append(CostLine(service, 0.0, rate))
    return lines


def _sagemaker(graph: ResourceGraph) -> list[CostLine]:
    lines = []
    minimums = _autoscaling_minimums(graph)
    for policy in graph.of_type("aws:appautoscaling/policy:Policy"):
        tracking = policy.inputs.get("targetTrackingScalingPolicyConfiguration") or {}
        metric = (tracking.get("predefinedMetricSpecification") or {}).get("predefinedMetricType", "")
        if metric.endswith("HighResolution"):
            lines.append(
                CostLine(
                    f"Scaling alarms {policy.name}",
                    2 * CLOUDWATCH_HIGH_RESOLUTION_ALARM_MONTHLY,
                    f"2 high-resolution alarms target tracking on {metric} creates",
                )
            )
    for config in graph.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration"):
        endpoint = next(
            (
                e
                for e in graph.of_type("aws:sagemaker/endpoint:Endpoint")
                if e.inputs.get("endpointConfigName") == config.physical_name
            ),
            None,
        )
        for variant in config.inputs.get("productionVariants", []):
            label = f"SageMaker endpoint {endpoint.inputs.get('name') if endpoint else config.name}"
            if serverless := variant.get("serverlessConfig"):
                memory_gb = int(serverless.get("memorySizeInMb", 0)) / 1024
                lines.append(
                    CostLine(
                        label,
                        0.0,
                        f"serverless, {memory_gb:g} GB: $0 at idle; "
                        f"${SAGEMAKER_SERVERLESS_GB_SECOND * memory_gb * 3600:.4f} per hour of calls",
                    )
                )
                continue
            instance = variant.get("instanceType", "?")
            hourly = SAGEMAKER_HOURLY.get(instance)
            scaling = variant.get("managedInstanceScaling") or {}
            if scaling.get("status") == "ENABLED" and scaling.get("minInstanceCount") == 0:
                active = "no price in the table" if hourly is None else f"${hourly:.3f} per hour"
                lines.append(
                    CostLine(
                        label,
                        0.0,
                        f"scales to zero on {instance}: $0 at idle; {active} per instance while active "
                        f"(up to {int(scaling.get('maxInstanceCount') or 1)})",
                    )
                )
                continue
            count = int(variant.get("initialInstanceCount") or 1)
            if endpoint is not None:
                count = minimums.get(str(endpoint.inputs.get("name")), count)
            detail = f"{count} x {instance}, always on"
            lines.append(
                CostLine(label, None if hourly is None else count * hourly * HOURS_PER_MONTH, detail)
            )
    return lines


def registered_models(graph: ResourceGraph) -> list[ModelSpec]:
    """The ModelSpecs the stack writes to its model registry (one TableItem each)."""
    specs = []
    for item in graph.of_type("aws:dynamodb/tableItem:TableItem"):
        spec_json = json.loads(item.inputs.get("item") or "{}").get("model_spec", {}).get("S")
        if spec_json:
            specs.append(ModelSpec.model_validate_json(spec_json))
    return specs


def _bedrock(graph: ResourceGraph) -> list[CostLine]:
    """Bedrock bills tokens only: $0 at idle, with the token rates to scale the estimate by."""
    lines = []
    for spec in registered_models(graph):
        if not isinstance(spec.deployment, BedrockDeployment):
            continue
        model_id = spec.deployment.model_id or ""
        key = bedrock_model_key(model_id)
        rates = (BEDROCK_INPUT_PER_1K_TOKENS.get(key), BEDROCK_OUTPUT_PER_1K_TOKENS.get(key))
        if None in rates:
            detail = f"{model_id}: $0 at idle; no token price in chatbot/pricing.py"
        else:
            detail = f"{model_id}: $0 at idle; ${rates[0]:g} per 1k input, ${rates[1]:g} per 1k output tokens"
        lines.append(CostLine(f"Bedrock model {spec.name}", 0.0, detail))
    return lines


def _autoscaling_minimums(graph: ResourceGraph) -> dict[str, int]:
    """endpoint name -> autoscaling minimum (the instances that run at idle)."""
    minimums = {}
    for target in graph.of_type("aws:appautoscaling/target:Target"):
        resource_id = str(target.inputs.get("resourceId", ""))
        if resource_id.startswith("endpoint/"):
            minimums[resource_id.split("/")[1]] = int(target.inputs.get("minCapacity") or 1)
    return minimums


def _rds(graph: ResourceGraph) -> list[CostLine]:
    lines = []
    for cluster in graph.of_type("aws:rds/cluster:Cluster"):
        scaling = cluster.inputs.get("serverlessv2ScalingConfiguration") or {}
        minimum = float(scaling.get("minCapacity") or 0)
        storage = AURORA_ASSUMED_GB * AURORA_GB_MONTH
        lines.append(
            CostLine(
                "Aurora PostgreSQL Serverless v2",
                minimum * AURORA_ACU_HOURLY * HOURS_PER_MONTH + storage,
                f"{minimum:g} ACU at idle (${AURORA_ACU_HOURLY}/ACU-hour when running), "
                f"{AURORA_ASSUMED_GB} GB assumed at ${AURORA_GB_MONTH}/GB-month",
            )
        )
    for db in graph.of_type("aws:rds/instance:Instance"):
        instance = db.inputs.get("instanceClass", "?")
        storage = float(db.inputs.get("allocatedStorage") or 0)
        hourly = RDS_HOURLY.get(instance)
        cost = None if hourly is None else hourly * HOURS_PER_MONTH + storage * RDS_GP3_GB_MONTH
        lines.append(CostLine("RDS PostgreSQL", cost, f"{instance}, {storage:.0f} GB gp3, single-AZ"))
    return lines


def _fargate(graph: ResourceGraph) -> list[CostLine]:
    lines = []
    tasks = {t.arn: t for t in graph.of_type("aws:ecs/taskDefinition:TaskDefinition")}
    for service in graph.of_type("aws:ecs/service:Service"):
        task: RecordedResource | None = tasks.get(service.inputs.get("taskDefinition", ""))
        if task is None:
            continue
        vcpu = float(task.inputs.get("cpu", 0)) / 1024
        memory_gb = float(task.inputs.get("memory", 0)) / 1024
        count = int(service.inputs.get("desiredCount") or 1)
        arm = (task.inputs.get("runtimePlatform") or {}).get("cpuArchitecture") == "ARM64"
        if arm:
            hourly = vcpu * FARGATE_ARM_VCPU_HOURLY + memory_gb * FARGATE_ARM_GB_HOURLY
        else:
            hourly = vcpu * FARGATE_VCPU_HOURLY + memory_gb * FARGATE_GB_HOURLY
        containers = ", ".join(c["name"] for c in json.loads(task.inputs.get("containerDefinitions") or "[]"))
        lines.append(
            CostLine(
                "ECS Fargate",
                count * hourly * HOURS_PER_MONTH,
                f"{count} x ({vcpu:g} vCPU, {memory_gb:g} GB{', arm64' if arm else ''}) {containers}",
            )
        )
    return lines


def total(lines: list[CostLine]) -> float:
    return sum(line.monthly_usd or 0.0 for line in lines)
