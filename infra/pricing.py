"""Estimated monthly cost of a stack at idle, from its resource graph and a pinned price table.

The table is dated and for one region: on-demand list prices in USD, copied by hand from AWS's
public price pages. It is an estimate for comparing stacks and spotting idle spend (SageMaker
instances run, and bill, around the clock), not a quote: check the AWS Pricing Calculator before
budgeting, and update the table (and its date) in one reviewed change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# Model hosting prices live in the core library: the chat API's leaderboard reads them too.
from chatbot.pricing import PRICES_AS_OF, PRICES_REGION, SAGEMAKER_HOURLY  # noqa: F401
from infra.offline import RecordedResource, ResourceGraph

HOURS_PER_MONTH = 730

#: RDS PostgreSQL single-AZ, per instance-hour.
RDS_HOURLY = {"db.t4g.micro": 0.016, "db.t4g.small": 0.032, "db.t4g.medium": 0.065, "db.m7g.large": 0.168}
RDS_GP3_GB_MONTH = 0.115
NAT_GATEWAY_HOURLY = 0.045
PUBLIC_IPV4_HOURLY = 0.005
INTERFACE_ENDPOINT_AZ_HOURLY = 0.01
ALB_HOURLY = 0.0225
ALB_LCU_HOURLY = 0.008  # one LCU assumed at low traffic
FARGATE_VCPU_HOURLY = 0.04048
FARGATE_GB_HOURLY = 0.004445
WAF_WEB_ACL_MONTHLY = 5.0
WAF_RULE_MONTHLY = 1.0
KMS_KEY_MONTHLY = 1.0
SECRET_MONTHLY = 0.40
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
    for _ in graph.of_type("aws:ec2/natGateway:NatGateway"):
        lines.append(
            CostLine("NAT gateway", NAT_GATEWAY_HOURLY * HOURS_PER_MONTH, "hourly charge, no traffic")
        )
    public_ips = len(graph.of_type("aws:ec2/eip:Eip")) + 2 * len(
        graph.of_type("aws:lb/loadBalancer:LoadBalancer")
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
            lines.append(
                CostLine(
                    f"VPC endpoint {service}",
                    azs * INTERFACE_ENDPOINT_AZ_HOURLY * HOURS_PER_MONTH,
                    f"{azs} AZs",
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
        1 for db in graph.of_type("aws:rds/instance:Instance") if db.inputs.get("manageMasterUserPassword")
    )
    if secrets:
        lines.append(CostLine("Secrets Manager", secrets * SECRET_MONTHLY, f"{secrets} secrets"))
    for service, rate in USAGE_PRICED.items():
        lines.append(CostLine(service, 0.0, rate))
    return lines


def _sagemaker(graph: ResourceGraph) -> list[CostLine]:
    lines = []
    minimums = _autoscaling_minimums(graph)
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
            instance = variant.get("instanceType", "?")
            count = int(variant.get("initialInstanceCount") or 1)
            if endpoint is not None:
                count = minimums.get(str(endpoint.inputs.get("name")), count)
            hourly = SAGEMAKER_HOURLY.get(instance)
            label = f"SageMaker endpoint {endpoint.inputs.get('name') if endpoint else config.name}"
            detail = f"{count} x {instance}, always on"
            lines.append(
                CostLine(label, None if hourly is None else count * hourly * HOURS_PER_MONTH, detail)
            )
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
        hourly = vcpu * FARGATE_VCPU_HOURLY + memory_gb * FARGATE_GB_HOURLY
        containers = ", ".join(c["name"] for c in json.loads(task.inputs.get("containerDefinitions") or "[]"))
        lines.append(
            CostLine(
                "ECS Fargate",
                count * hourly * HOURS_PER_MONTH,
                f"{count} x ({vcpu:g} vCPU, {memory_gb:g} GB) {containers}",
            )
        )
    return lines


def total(lines: list[CostLine]) -> float:
    return sum(line.monthly_usd or 0.0 for line in lines)
