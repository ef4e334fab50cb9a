"""The rule framework: Rule, Violation, the graph helpers rules share, and evaluate().

Each rule is a function from the graph to violations; `evaluate` runs them all. A stack may waive a
rule only with a written reason (config `security_waivers`), and the plan prints it next to the rule.
Inputs use the engine's camelCase names, as the mocks record them (infra/checks/offline.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from infra.checks.offline import RecordedResource, ResourceGraph


@dataclass(frozen=True)
class Context:
    #: Production stacks must also protect data from deletion and require MFA.
    production: bool
    #: The stack's chatbot:budget_usd_month: its idle cost must stay within it. None: no budget.
    budget_usd_month: float | None = None


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


def refers_to(value: Any, resource: RecordedResource) -> bool:
    return value in {
        resource.id,
        resource.arn,
        resource.inputs.get("name"),
        resource.inputs.get("bucket"),
    } - {None, ""}


def companion(
    graph: ResourceGraph, type_token: str, key: str, target: RecordedResource
) -> RecordedResource | None:
    """The resource of `type_token` whose `key` input points at `target` (e.g. a bucket's policy)."""
    return next((r for r in graph.of_type(type_token) if refers_to(r.inputs.get(key), target)), None)


def statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


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
