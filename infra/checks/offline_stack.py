"""The real program (infra/program.py) built under mocks, for the plan and the tests: a stack's
resource graph and outputs, with no AWS and no Pulumi CLI. The deploy program never imports this."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from chatbot.errors import ConfigError
from infra.checks.offline import OfflineRun, ResourceGraph, run_offline
from infra.checks.policies import RULES
from infra.config import StackConfig, stack_file
from infra.program import PROJECT, build_stack, load_config


def check_waivers(config: StackConfig, stack: str) -> None:
    """A waiver names a rule that exists (the plan prints it next to that rule)."""
    known_rules = {rule.id for rule in RULES}
    if unknown := sorted(set(config.security_waivers) - known_rules):
        raise ConfigError(
            f"Pulumi.{stack}.yaml: chatbot:security_waivers: unknown rules {unknown}; "
            f"rules are {sorted(known_rules)}"
        )


def offline_run(
    stack: str, config: Mapping[str, str] | None = None, graph: ResourceGraph | None = None
) -> OfflineRun:
    """Build a stack under mocks: its Pulumi.<stack>.yaml, or `config` in its place."""
    raw = dict(config) if config is not None else stack_file(stack)
    region = str(raw.get("aws:region") or "us-east-1")

    def program() -> dict[str, pulumi.Output[Any]]:
        stack_config, stack_region = load_config(raw, stack)
        check_waivers(stack_config, stack)
        return build_stack(
            stack_config,
            region=stack_region,
            stack=stack,
            profile=raw.get("aws:profile"),
            require_artifacts=False,
        )

    return run_offline(program, project=PROJECT, stack=stack, config=raw, region=region, graph=graph)
