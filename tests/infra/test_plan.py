"""`python -m infra.plan`: the resource tree, the rules' verdicts and the monthly cost, offline."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from infra.checks import plan, pricing
from infra.checks.offline import OfflineRun, RecordedResource, ResourceGraph


@pytest.fixture(scope="module")
def printed() -> dict[str, tuple[int, str]]:
    """Both stacks' plans, printed once for the module: stack -> (exit code, output)."""
    results = {}
    for stack in ("dev", "prod"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = plan.main(["--stack", stack])
        results[stack] = (code, out.getvalue())
    return results


def total_of(text: str) -> float:
    return float(re.search(r"\$\s*([\d.]+)\s+TOTAL per month", text).group(1))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_plan_prints_the_tree_the_verdicts_and_the_cost(stack: str, printed):
    code, text = printed[stack]
    assert code == 0, text
    assert re.search(rf"Stack {stack} \(us-east-1\): \d+ resources", text)
    assert "\nweb  (chatbot:web:WebEdge)\n  web-alb  (aws:lb/loadBalancer:LoadBalancer)\n" in text
    # a component inside a component: the embeddings model inside the vector store
    assert (
        "\n  retrieval-embeddings  (chatbot:llm:LargeLanguageModel)\n    retrieval-embeddings-build" in text
    )
    assert "Security rules:" in text
    assert "FAIL" not in text
    assert f"list prices of {pricing.PRICES_AS_OF}" in text
    assert total_of(text) > 0
    assert "n/a" not in text, "every priced resource has a price"


def test_dev_shows_its_waiver_and_costs_less_than_prod(printed):
    dev, prod = printed["dev"][1], printed["prod"][1]
    assert "WAIVED cloudfront-tls" in dev
    assert "waived: dev has no custom domain" in dev
    assert "PASS   cloudfront-tls" in prod
    assert total_of(dev) < total_of(prod)
    assert "Bedrock model nova-micro" in dev
    assert "SageMaker endpoint minilm-l6-dev: serverless" in dev
    assert "NAT gateway" not in dev
    assert "EC2 network-nat-instance: t4g.nano" in dev
    assert total_of(dev) <= 80, "dev idles within its budget"
    assert "PASS   cost-within-budget" in dev
    assert prod.count("NAT gateway: hourly") == 2


def test_an_unknown_stack_is_an_error_naming_the_stacks(capsys):
    assert plan.main(["--stack", "staging"]) == 2
    assert "Pulumi.staging.yaml not found: stacks here are dev, prod" in capsys.readouterr().err


def test_cost_counts_sagemaker_instances_at_their_autoscaling_minimum(all_kinds: OfflineRun):
    lines = {line.item: line for line in pricing.estimate(all_kinds.graph)}
    tgi = lines["SageMaker endpoint tgi-dev"]
    assert tgi.detail == "1 x ml.g5.2xlarge, always on"
    assert tgi.monthly_usd == pytest.approx(pricing.SAGEMAKER_HOURLY["ml.g5.2xlarge"] * 730)


def test_an_instance_without_a_price_is_shown_and_marks_the_total_incomplete():
    config = RecordedResource(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "odd-config",
        "urn:odd",
        "",
        True,
        {"productionVariants": [{"instanceType": "ml.x99.huge", "initialInstanceCount": 1}]},
    )
    lines = pricing.estimate(ResourceGraph([config]))
    assert lines[0].monthly_usd is None
    assert "incomplete: no price in infra/checks/pricing.py for SageMaker endpoint odd-config" in "\n".join(
        plan.cost_lines(lines)
    )
