"""Shared helpers for the infra tests: stack configs and graph queries."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from infra.checks.offline import RecordedResource, ResourceGraph
from infra.config import PROJECT_ROOT, stack_file

#: The cheap SageMaker option for chat (dev chats with Bedrock): this project's llama.cpp image.
CPU_LLAMACPP_MODEL: dict[str, Any] = {
    "name": "smollm2-135m",
    "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "endpoint_name": "smollm2-135m",
    "context_window": 2048,
    "deployment": {
        "kind": "cpu-llamacpp",
        "instance_type": "ml.c7i.large",
        "gguf": "smollm2-135m-instruct-q4_1",
        "startup_health_check_timeout_s": 300,
    },
}


def stack_config(stack: str, **overrides: Any) -> dict[str, str]:
    """A stack file's config with some `chatbot:` keys replaced (values as the CLI passes them)."""
    raw = stack_file(stack)
    for key, value in overrides.items():
        full_key = key if ":" in key else f"chatbot:{key}"
        raw[full_key] = value if isinstance(value, str) else json.dumps(value)
    return raw


def stack_models(stack: str) -> list[dict[str, Any]]:
    document = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())
    return document["config"]["chatbot:models"]


def one(graph: ResourceGraph, type_token: str, name: str | None = None) -> RecordedResource:
    matches = [r for r in graph.of_type(type_token) if name is None or r.name == name]
    assert len(matches) == 1, f"expected one {type_token} named {name}, found {[r.name for r in matches]}"
    return matches[0]


def policy(resource: RecordedResource, key: str = "policy") -> list[dict[str, Any]]:
    statements = json.loads(resource.inputs[key])["Statement"]
    return statements if isinstance(statements, list) else [statements]


def allowed(graph: ResourceGraph, role: RecordedResource) -> dict[str, set[str]]:
    """action -> resources, over every inline policy of `role`."""
    grants: dict[str, set[str]] = {}
    for inline in graph.of_type("aws:iam/rolePolicy:RolePolicy"):
        if inline.inputs.get("role") != role.id:
            continue
        for statement in policy(inline):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                grants.setdefault(action, set()).update(statement["Resource"])
    return grants


def where(
    graph: ResourceGraph, type_token: str, predicate: Callable[[RecordedResource], bool]
) -> list[RecordedResource]:
    return [r for r in graph.of_type(type_token) if predicate(r)]


def waits_on(graph: ResourceGraph, component: RecordedResource, other: RecordedResource) -> bool:
    """Does any resource inside `component` wait, directly or through others, on one inside `other`?"""

    def inside(resource: RecordedResource | None, parent: RecordedResource) -> bool:
        while resource is not None and resource.parent_urn:
            if resource.parent_urn == parent.urn:
                return True
            resource = graph.by_urn(resource.parent_urn)
        return False

    for resource in graph.resources:
        if not inside(resource, component):
            continue
        seen: set[str] = set()
        pending = list(resource.dependencies)
        while pending:
            urn = pending.pop()
            if urn in seen:
                continue
            seen.add(urn)
            dependency = graph.by_urn(urn)
            if dependency is not None:
                if inside(dependency, other):
                    return True
                pending.extend(dependency.dependencies)
    return False
