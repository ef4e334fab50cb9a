"""The us-east-1 providers (the web ACL, the gateway's Lambda@Edge) deploy with the stack's
credentials: an explicit provider reads no `aws:profile` from the stack config by itself."""

from __future__ import annotations

import pytest

from infra.checks.offline import OfflineRun
from infra.checks.offline_stack import offline_run
from tests.infra.support import stack_config


@pytest.fixture(scope="module")
def dev_in_us_west_2() -> OfflineRun:
    return offline_run("dev", {**stack_config("dev"), "aws:region": "us-west-2", "aws:profile": "deployer"})


def test_every_us_east_1_provider_takes_the_stacks_profile(dev_in_us_west_2: OfflineRun):
    providers = dev_in_us_west_2.graph.of_type("pulumi:providers:aws")
    assert {p.name for p in providers} == {"web-us-east-1", "gateway-us-east-1"}
    for provider in providers:
        assert provider.inputs["region"] == "us-east-1", provider.urn
        assert provider.inputs.get("profile") == "deployer", provider.urn
