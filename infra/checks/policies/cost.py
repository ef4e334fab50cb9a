"""Cost rules: a stack stays within the budget it declares (`chatbot:budget_usd_month`)."""

from __future__ import annotations

from collections.abc import Iterator

from infra.checks import pricing
from infra.checks.offline import RecordedResource, ResourceGraph
from infra.checks.policies._base import Context, rule


@rule("cost-within-budget", "The stack's estimated idle cost per month is within chatbot:budget_usd_month")
def _within_budget(graph: ResourceGraph, context: Context) -> Iterator[tuple[RecordedResource, str]]:
    if context.budget_usd_month is None or not graph.resources:
        return
    lines = pricing.estimate(graph)
    total = pricing.total(lines)
    unpriced = [line.item for line in lines if line.monthly_usd is None]
    biggest = sorted((line for line in lines if line.monthly_usd), key=lambda line: -(line.monthly_usd or 0))
    largest = ", ".join(f"{line.item} ${line.monthly_usd:.2f}" for line in biggest[:3])
    stack = graph.resources[0]  # the budget is the stack's: the report names its first resource
    if total > context.budget_usd_month:
        yield (
            stack,
            f"${total:.2f} a month at idle is over the budget of ${context.budget_usd_month:.2f} "
            f"(largest: {largest})",
        )
    if unpriced:
        yield stack, f"cannot check the budget: no price in the table for {', '.join(unpriced)}"


_STEP_POLICY = "aws:appautoscaling/policy:Policy"


@rule(
    "sagemaker-scale-to-zero",
    "A scale_to_zero model runs on instances that scale to 0, with a NoCapacityInvocationFailures "
    "alarm that scales it out from 0",
)
def _scale_to_zero(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    # Half of it is worse than none: without the minimum of 0 the instance bills around the clock
    # (the plan would say $0); without the alarm nothing starts a copy and every request fails.
    items = graph.of_type("aws:dynamodb/tableItem:TableItem")
    for spec in pricing.registered_models(graph):
        if not spec.deployment.scale_to_zero:
            continue
        item = next((i for i in items if f'"{spec.name}"' in str(i.inputs.get("item"))), items[0])
        endpoint = next(
            (
                e
                for e in graph.of_type("aws:sagemaker/endpoint:Endpoint")
                if e.inputs.get("name") == spec.endpoint_name
            ),
            None,
        )
        if endpoint is None:
            yield item, f"model {spec.name}: no endpoint {spec.endpoint_name} to scale to zero"
            continue
        if not _scales_instances_to_zero(graph, endpoint):
            yield (
                endpoint,
                f"model {spec.name}: the endpoint config's ManagedInstanceScaling needs MinInstanceCount 0",
            )
        components = [
            str(r.inputs.get("name"))
            for r in graph.resources
            if r.type.startswith("pulumi-python:dynamic")
            and r.inputs.get("endpoint_name") == spec.endpoint_name
        ]
        if not any(_scales_out_from_zero(graph, component) for component in components):
            yield (
                endpoint,
                f"model {spec.name}: no step-scaling policy on its inference component, triggered by an "
                "alarm over NoCapacityInvocationFailures, to start a copy from 0",
            )


def _scales_instances_to_zero(graph: ResourceGraph, endpoint: RecordedResource) -> bool:
    configs = [
        c
        for c in graph.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
        if c.physical_name == endpoint.inputs.get("endpointConfigName")
    ]
    return any(
        (variant.get("managedInstanceScaling") or {}).get("status") == "ENABLED"
        and (variant.get("managedInstanceScaling") or {}).get("minInstanceCount") == 0
        for config in configs
        for variant in config.inputs.get("productionVariants", [])
    )


def _scales_out_from_zero(graph: ResourceGraph, component: str) -> bool:
    step_policies = {
        p.arn
        for p in graph.of_type(_STEP_POLICY)
        if p.inputs.get("policyType") == "StepScaling"
        and p.inputs.get("resourceId") == f"inference-component/{component}"
        and p.inputs.get("scalableDimension") == "sagemaker:inference-component:DesiredCopyCount"
    }
    return any(
        alarm.inputs.get("metricName") == "NoCapacityInvocationFailures"
        and (alarm.inputs.get("dimensions") or {}).get("InferenceComponentName") == component
        and step_policies & set(alarm.inputs.get("alarmActions") or [])
        for alarm in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    )
