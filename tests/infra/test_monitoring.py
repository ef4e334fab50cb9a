"""Monitoring: a Budgets budget from chatbot:budget_usd_month alerting the stack's SNS topic, and
CloudWatch alarms on what goes wrong first (5xx, Lambda errors and throttles, the indexer's
dead-letter queue, the database's load), all to the same topic."""

from __future__ import annotations

import json

from infra.checks.offline import OfflineRun
from infra.checks.offline_stack import offline_run
from tests.infra.support import one, stack_config

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def alarms(run: OfflineRun) -> dict[str, dict]:
    """The monitoring component's alarms (a scale-to-zero model's own scale-out alarm acts on its
    scaling policy, not on the alerts topic)."""
    return {
        alarm.name.removeprefix("monitoring-"): alarm.inputs
        for alarm in run.graph.of_type(ALARM)
        if alarm.name.startswith("monitoring-")
    }


def test_the_budget_is_the_stacks_and_alerts_its_topic_on_actual_and_forecast_spend(dev: OfflineRun):
    budget = one(dev.graph, "aws:budgets/budget:Budget")
    assert (budget.inputs["limitAmount"], budget.inputs["limitUnit"]) == ("80.00", "USD")
    assert (budget.inputs["budgetType"], budget.inputs["timeUnit"]) == ("COST", "MONTHLY")
    topic = one(dev.graph, "aws:sns/topic:Topic")
    kinds = {n["notificationType"]: n for n in budget.inputs["notifications"]}
    assert set(kinds) == {"ACTUAL", "FORECASTED"}
    assert all(n["subscriberSnsTopicArns"] == [topic.arn] for n in kinds.values())
    policy = json.loads(one(dev.graph, "aws:sns/topicPolicy:TopicPolicy").inputs["policy"])["Statement"]
    assert "budgets.amazonaws.com" in policy[0]["Principal"]["Service"], "Budgets may not publish otherwise"


def test_alarms_cover_5xx_errors_throttles_the_dead_letter_queue_and_the_database(dev: OfflineRun, dev_rds):
    by_label = alarms(dev)
    assert set(by_label) == {
        "chat-5xx",
        "chat-errors",
        "chat-throttles",
        "indexer-errors",
        "indexer-throttles",
        "indexer-dlq",
        "database-load",
    }
    assert by_label["chat-5xx"]["metricName"] == "Url5xxCount"
    assert by_label["chat-5xx"]["dimensions"] == {"FunctionName": "chatbot-dev-chat-api"}
    dlq = one(dev.graph, "aws:sqs/queue:Queue", "retrieval-index-dlq")
    assert by_label["indexer-dlq"]["dimensions"] == {"QueueName": dlq.physical_name}
    assert by_label["database-load"]["metricName"] == "ServerlessDatabaseCapacity"
    assert by_label["database-load"]["threshold"] == 0.9 * 2  # dev's db_max_acu
    assert alarms(dev_rds)["database-load"]["metricName"] == "CPUUtilization"
    topic = one(dev.graph, "aws:sns/topic:Topic")
    for label, alarm in by_label.items():
        assert alarm["alarmActions"] == [topic.arn], label
        assert alarm["treatMissingData"] == "notBreaching", label


def test_an_email_in_the_stack_file_is_subscribed_and_a_topic_of_your_own_replaces_the_stacks():
    with_email = offline_run("dev", stack_config("dev", alerts={"email": "ops@example.com"}))
    subscription = one(with_email.graph, "aws:sns/topicSubscription:TopicSubscription")
    assert (subscription.inputs["protocol"], subscription.inputs["endpoint"]) == ("email", "ops@example.com")
    mine = "arn:aws:sns:us-east-1:123456789012:ops-alerts"
    own = offline_run("dev", stack_config("dev", alerts={"sns_topic_arn": mine}))
    assert own.graph.of_type("aws:sns/topic:Topic") == []
    assert all(alarm["alarmActions"] == [mine] for alarm in alarms(own).values())
    assert own.outputs["alerts_topic_arn"] == mine
