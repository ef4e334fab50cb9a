"""Cost rules: a stack stays within the budget it declares (`chatbot:budget_usd_month`)."""

from __future__ import annotations

from collections.abc import Iterator

from infra import pricing
from infra.offline import RecordedResource, ResourceGraph
from infra.policies._base import Context, rule


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
