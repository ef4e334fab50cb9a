"""The arena's scheduled refit: an EventBridge Scheduler schedule that invokes the chat API with
the refit event, through a role that may invoke that function and nothing else (proven under
moto with IAM enforced)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from chatbot.api.arena import REFIT_EVENT, RefitEvent
from infra.checks.offline import OfflineRun
from tests.infra.iam_enforced import REGION, EnforcedAws, enforced_aws, role_statements
from tests.infra.support import one

SCHEDULE = "aws:scheduler/schedule:Schedule"


def test_the_schedule_sends_the_refit_event_to_the_chat_api(dev: OfflineRun):
    schedule = one(dev.graph, SCHEDULE, "arena-refit-schedule")
    function = one(dev.graph, "aws:lambda/function:Function", "chat-function")
    target = schedule.inputs["target"]
    assert target["arn"] == function.arn
    assert RefitEvent.model_validate_json(target["input"]).model_dump() == REFIT_EVENT
    assert schedule.inputs["scheduleExpression"].startswith("rate(")
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    role = one(dev.graph, "aws:iam/role:Role", "arena-refit-role")
    assert target["roleArn"] == role.arn
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert [s["Principal"]["Service"] for s in trust] == ["scheduler.amazonaws.com"]
    assert all("aws:SourceAccount" in s["Condition"]["StringEquals"] for s in trust), "confused deputy"


def test_the_schedules_role_may_invoke_the_chat_api_and_nothing_else(dev: OfflineRun):
    statements = role_statements(dev.graph, "arena-refit-role")
    function = one(dev.graph, "aws:lambda/function:Function", "chat-function")
    assert statements == [
        {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [function.arn]}
    ]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[EnforcedAws]:
    with enforced_aws(monkeypatch) as aws:
        yield aws


def test_under_enforced_iam_the_role_invokes_the_chat_api_and_does_nothing_else(
    aws: EnforcedAws, dev: OfflineRun
):
    """moto checks Lambda calls by action only, against Resource "*" (as it does DynamoDB's), and
    names Invoke lambda:Invoke: the statement that names the chat API is kept so, and the test
    above proves it names that function alone."""
    function = one(dev.graph, "aws:lambda/function:Function", "chat-function")
    kept = [
        {**statement, "Resource": "*", "Action": [*statement["Action"], "lambda:Invoke"]}
        for statement in role_statements(dev.graph, "arena-refit-role")
        if statement["Resource"] == [function.arn] and statement["Action"] == ["lambda:InvokeFunction"]
    ]
    client = aws.user("scheduler", json.dumps({"Version": "2012-10-17", "Statement": kept})).session()
    lambda_ = client.client("lambda")
    chat_api = f"arn:aws:lambda:{REGION}:123456789012:function:chatbot-dev-chat-api"
    with pytest.raises(ClientError) as invoked:
        lambda_.invoke(FunctionName=chat_api, Payload=json.dumps(REFIT_EVENT))
    assert invoked.value.response["Error"]["Code"] == "ResourceNotFoundException", (
        "authorised, then not found"
    )
    for call in (
        lambda: lambda_.get_function(FunctionName=chat_api),
        lambda: lambda_.update_function_code(FunctionName=chat_api, ZipFile=b"x"),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert "AccessDenied" in str(refused.value) or refused.value.response["Error"]["Code"] == "403"
