"""The real AWS provider (hashicorp/aws, the code pulumi-aws is bridged from) validates both stacks'
mocked graphs: required arguments, enums, ConflictsWith, ARN and name formats. Offline: the
provider comes from a filesystem mirror. Where the machine lacks terraform or the provider, the
tests skip and say so."""

from __future__ import annotations

import pytest

from infra.checks import terraform
from infra.checks.offline import OfflineRun

pytestmark = pytest.mark.skipif(bool(terraform.unavailable()), reason=f"{terraform.unavailable()}")


@pytest.fixture(scope="module")
def schema() -> dict:
    return terraform.provider_schema()


@pytest.mark.parametrize("stack", ["dev", "prod", "all_kinds"])
def test_terraform_validate_accepts_the_stacks_graph(stack: str, schema: dict, request):
    run: OfflineRun = request.getfixturevalue(stack)
    rendered = terraform.render(run.graph, schema, "us-east-1")
    assert rendered.unmapped == [], "every input has a place in the provider's schema"
    problems = terraform.findings(terraform.validate(rendered.document, terraform.WORK_DIR / stack))
    assert problems == []


def test_validate_catches_what_mocks_cannot(schema: dict, dev_rds: OfflineRun):
    # Checked here before this test existed: both are refused by the provider, both pass the mocks.
    rendered = terraform.render(dev_rds.graph, schema, "us-east-1")
    document = rendered.document
    url = next(iter(document["resource"]["aws_lambda_function_url"].values()))
    url["invoke_mode"] = "RESPONSE_STREAMX"
    db = next(iter(document["resource"]["aws_db_instance"].values()))
    db["password"] = "not-with-a-managed-one"
    problems = "\n".join(terraform.findings(terraform.validate(document, terraform.WORK_DIR / "broken")))
    assert "RESPONSE_STREAMX" in problems
    assert "manage_master_user_password" in problems


def test_every_aws_type_of_the_program_is_in_the_table(all_kinds: OfflineRun, prod: OfflineRun):
    for run in (all_kinds, prod):
        types = {r.type for r in run.graph.resources if r.custom and r.type.startswith("aws:")}
        assert types <= set(terraform.TYPES), sorted(types - set(terraform.TYPES))
