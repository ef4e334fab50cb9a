"""The program's shape: components with `chatbot:<area>:<Type>` tokens, children named after their
parent and parented to it, and a thin __main__.py that builds the same stack."""

from __future__ import annotations

import asyncio
import re
import runpy
import subprocess
import sys
from functools import partial

import pytest

from chatbot.errors import ConfigError
from infra import program
from infra.build import packaging
from infra.checks.offline import OfflineRun, ResourceGraph, run_offline
from infra.checks.offline_stack import offline_run
from infra.config import PROJECT_ROOT
from infra.program import PROJECT
from tests.infra.support import stack_config


def test_components_use_the_chatbot_area_type_tokens(all_kinds: OfflineRun):
    components = [r for r in all_kinds.graph.resources if not r.custom]
    assert {c.type for c in components} >= {
        "chatbot:network:Network",
        "chatbot:llm:LargeLanguageModel",
        "chatbot:llm:InferenceImage",
        "chatbot:gateway:GatewayEdge",
        "chatbot:chat:ChatBackend",
        "chatbot:retrieval:VectorStore",
        "chatbot:web:WebEdge",
        "chatbot:web:WebService",
    }
    for component in components:
        if not component.type.startswith("awsx:"):
            assert re.fullmatch(r"chatbot:[a-z]+:[A-Z][A-Za-z]+", component.type), component.urn


def test_every_resource_belongs_to_a_component_and_is_named_after_it(dev: OfflineRun):
    graph = dev.graph
    for resource in graph.resources:
        parent = graph.by_urn(resource.parent_urn)
        if parent is None:  # a top-level component
            assert not resource.custom, f"{resource.urn} is not inside a component"
            continue
        assert resource.name.startswith(f"{parent.name}-"), f"{resource.urn} is not named after {parent.name}"


def run_main(graph: ResourceGraph) -> OfflineRun:
    return run_offline(
        lambda: runpy.run_path(str(PROJECT_ROOT / "__main__.py")) and None,
        project=PROJECT,
        stack="dev",
        config=stack_config("dev"),
        region="us-east-1",
        graph=graph,
    )


def test_main_builds_the_same_stack_as_the_offline_plan(dev: OfflineRun, monkeypatch: pytest.MonkeyPatch):
    # Lambda layers are built by `python -m infra.packaging`, which needs the network: accept them unbuilt.
    monkeypatch.setattr(program, "lambda_code", partial(_unbuilt_ok, packaging.lambda_code))
    run = run_main(ResourceGraph())
    assert sorted((r.type, r.name) for r in run.graph.resources) == sorted(
        (r.type, r.name) for r in dev.graph.resources
    )


def _unbuilt_ok(real, *args, require_built: bool, **kwargs):
    return real(*args, require_built=False, **kwargs)


def test_main_refuses_to_deploy_an_unbuilt_layer_before_creating_anything(tmp_path, monkeypatch):
    # A checkout where `python -m infra.packaging chat_api` has not run yet.
    monkeypatch.setattr(packaging, "build_dir", lambda root, function: tmp_path / function)
    graph = ResourceGraph()
    with pytest.raises(ConfigError, match=r"python -m infra\.packaging chat_api"):
        run_main(graph)
    assert graph.resources == []


def test_the_deploy_program_imports_no_offline_tooling():
    # `pulumi up` runs __main__.py: the mocks, the security rules and the plan stay out of it.
    probe = (
        "import sys, runpy; from unittest import mock; "
        "import infra.program, infra.config; "
        "print(sorted(m for m in sys.modules if m.startswith(('infra.checks.offline', 'infra.checks.policies', 'infra.checks.plan'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_stack_exports_the_app_url_user_pool_and_chat_api_url(dev: OfflineRun, prod: OfflineRun):
    for run in (dev, prod):
        assert run.outputs["app_url"].startswith("https://")
        assert run.outputs["chat_api_url"].startswith("https://")
        assert run.outputs["user_pool_id"].startswith("us-east-1_")
    assert prod.outputs["app_url"] == "https://chat.example.com"


def test_main_is_thin():
    lines = [line for line in (PROJECT_ROOT / "__main__.py").read_text().splitlines() if line.strip()]
    assert len(lines) <= 12


def test_an_offline_run_works_after_asyncio_run_elsewhere_in_the_process():
    # asyncio.run() leaves the main thread without a current event loop; Pulumi's mocks need one.
    async def nothing() -> None:
        return None

    asyncio.run(nothing())
    assert offline_run("dev").graph.of_type("chatbot:chat:ChatBackend")
