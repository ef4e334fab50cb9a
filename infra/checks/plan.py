"""`python -m infra.plan --stack dev`: what `pulumi up` would build, whether it passes the security
rules, and what it would cost per month at idle. Runs the real program under mocks; no AWS calls.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from chatbot.errors import ConfigError
from infra.checks import pricing
from infra.checks.offline import RecordedResource, ResourceGraph
from infra.checks.offline_stack import offline_run
from infra.checks.policies import Context, Verdict, evaluate
from infra.config import PROJECT_ROOT, StackConfig, stack_file, stacks
from infra.program import load_config

#: Paths the program packages from folders other parts of the project own.
ARTIFACTS = {
    "lambdas/chat_api": "chat API code (FastAPI app and run.sh)",
    "lambdas/chat_api/requirements.txt": "chat API dependencies",
    ".data/lambda/chat_api/layer.zip": "chat API layer (python -m infra.packaging chat_api)",
    "lambdas/document_indexer": "document indexer code",
    "lambdas/document_indexer/requirements.txt": "indexer dependencies",
    ".data/lambda/document_indexer/layer.zip": "indexer layer (python -m infra.packaging document_indexer)",
    "streamlit_app/Dockerfile": "web app image",
    "inference/Dockerfile": "cpu-llamacpp model server image",
}


def tree_lines(graph: ResourceGraph) -> Iterator[str]:
    """Resources indented under their component; siblings by name (registration order varies)."""
    urns = {resource.urn for resource in graph.resources}

    def walk(children: list[RecordedResource], depth: int) -> Iterator[str]:
        for resource in sorted(children, key=lambda r: r.name):
            yield f"{'  ' * depth}{resource.name}  ({resource.type})"
            yield from walk(graph.children(resource.urn), depth + 1)

    yield from walk([r for r in graph.resources if r.parent_urn not in urns], 0)


def verdict_lines(verdicts: list[Verdict]) -> Iterator[str]:
    for verdict in verdicts:
        yield f"  {verdict.status.upper():6} {verdict.rule.id}: {verdict.rule.description}"
        if verdict.status == "waived":
            yield f"         waived: {verdict.waiver}"
        if verdict.violations:
            for violation in verdict.violations:
                yield f"         - {violation.urn.split('::')[-1]}: {violation.message}"


def cost_lines(lines: list[pricing.CostLine]) -> Iterator[str]:
    for line in lines:
        amount = "     n/a" if line.monthly_usd is None else f"{line.monthly_usd:8.2f}"
        yield f"  ${amount}  {line.item}: {line.detail}"
    unpriced = [line.item for line in lines if line.monthly_usd is None]
    yield f"  ${pricing.total(lines):8.2f}  TOTAL per month at idle ({pricing.PRICES_REGION} list prices of {pricing.PRICES_AS_OF})"
    if unpriced:
        yield f"  (incomplete: no price in infra/checks/pricing.py for {', '.join(unpriced)})"


def context(config: StackConfig) -> Context:
    """What the rules need to know about the stack beyond its graph."""
    return Context(production=config.deletion_protection, budget_usd_month=config.budget_usd_month)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help=f"one of: {', '.join(stacks())}")
    args = parser.parse_args(argv)
    try:
        raw = stack_file(args.stack)
        config, region = load_config(raw, args.stack)
        run = offline_run(args.stack, raw)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    graph = run.graph
    verdicts = evaluate(graph, context(config), config.security_waivers)
    print(f"Stack {args.stack} ({region}): {len(graph.resources)} resources\n")
    print("\n".join(tree_lines(graph)))
    print("\nSecurity rules:")
    print("\n".join(verdict_lines(verdicts)))
    missing = [f"{path} ({what})" for path, what in ARTIFACTS.items() if not (PROJECT_ROOT / path).exists()]
    if missing:
        print("\nNot built yet (pulumi up needs them):")
        print("\n".join(f"  - {item}" for item in missing))
    print("\nEstimated monthly cost:")
    print("\n".join(cost_lines(pricing.estimate(graph))))
    print("\nOutputs:")
    print("\n".join(f"  {key}: {value}" for key, value in run.outputs.items()))
    return 1 if any(verdict.status == "fail" for verdict in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
