"""Monitoring: what tells the stack's owner that the product or the bill is going wrong.

- An AWS Budgets cost budget of `chatbot:budget_usd_month` (actual spend past 80 %, forecast past
  100 %), alerting the stack's SNS topic. Per-user quotas cap tokens; this caps the AWS bill.
- CloudWatch alarms, to the same topic: the chat API's 5xx answers (its function URL), Lambda
  errors and throttles of the chat API and the indexer, documents in the indexer's dead-letter
  queue, and the database's load (Aurora capacity near its maximum, or an RDS instance's CPU).
- The topic is the stack's own (subscribe `chatbot:alerts.email` to it), or `alerts.sns_topic_arn`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.components.iam import policy_document
from infra.config import AlertsConfig

#: (namespace, metric, dimensions, threshold): the database's load metric and its alarm level.
DatabaseMetric = tuple[str, str, Mapping[str, pulumi.Input[str]], float]


@dataclass
class MonitoringArgs:
    stack: str
    chat_function_name: pulumi.Input[str]
    budget_usd_month: float | None = None
    #: The stack's chatbot:alerts section: where alarms and the budget alert go.
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    indexer_function_name: pulumi.Input[str] | None = None
    dead_letter_queue_name: pulumi.Input[str] | None = None
    database_metric: DatabaseMetric | None = None
    #: Chat API 5xx answers in 5 minutes before the alarm fires.
    chat_5xx_per_5min: int = 5


class Monitoring(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:monitoring:Monitoring", name, None, opts)
        self._name, self._stack = name, args.stack
        child = pulumi.ResourceOptions(parent=self)
        if args.alerts.sns_topic_arn:
            self.topic_arn = pulumi.Output.from_input(args.alerts.sns_topic_arn)
        else:
            topic = aws.sns.Topic(f"{name}-alerts", name=f"chatbot-{args.stack}-alerts", opts=child)
            # Budgets publishes as its service principal, which the default topic policy leaves out.
            aws.sns.TopicPolicy(
                f"{name}-alerts-policy",
                arn=topic.arn,
                policy=policy_document(
                    [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": ["budgets.amazonaws.com", "cloudwatch.amazonaws.com"]},
                            "Action": "sns:Publish",
                            "Resource": topic.arn,
                        }
                    ]
                ),
                opts=child,
            )
            if args.alerts.email:
                aws.sns.TopicSubscription(
                    f"{name}-alerts-email",
                    topic=topic.arn,
                    protocol="email",
                    endpoint=args.alerts.email,
                    opts=child,
                )
            self.topic_arn = topic.arn
        if args.budget_usd_month is not None:
            self._budget(args)
        self._alarm("chat-5xx", "AWS/Lambda", "Url5xxCount", {"FunctionName": args.chat_function_name},
                    threshold=args.chat_5xx_per_5min, what="the chat API answered 5xx")  # fmt: skip
        functions = [("chat", args.chat_function_name)]
        if args.indexer_function_name is not None:
            functions.append(("indexer", args.indexer_function_name))
        for label, function in functions:
            for metric in ("Errors", "Throttles"):
                self._alarm(f"{label}-{metric.lower()}", "AWS/Lambda", metric, {"FunctionName": function},
                            threshold=1, what=f"the {label} function's {metric.lower()}")  # fmt: skip
        if args.dead_letter_queue_name is not None:
            self._alarm("indexer-dlq", "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                        {"QueueName": args.dead_letter_queue_name}, threshold=1, statistic="Maximum",
                        what="documents the indexer gave up on")  # fmt: skip
        if args.database_metric is not None:
            namespace, metric, dimensions, threshold = args.database_metric
            self._alarm("database-load", namespace, metric, dimensions, threshold=threshold,
                        statistic="Average", periods=3, what="the database near its capacity")  # fmt: skip
        self.register_outputs({"topic_arn": self.topic_arn})

    def _budget(self, args: MonitoringArgs) -> None:
        notifications = [
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                notification_type=kind,
                threshold=percent,
                threshold_type="PERCENTAGE",
                subscriber_sns_topic_arns=[self.topic_arn],
            )
            for kind, percent in (("ACTUAL", 80), ("FORECASTED", 100))
        ]
        aws.budgets.Budget(
            f"{self._name}-budget",
            name=f"chatbot-{args.stack}-monthly",
            budget_type="COST",
            limit_amount=f"{args.budget_usd_month:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            notifications=notifications,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _alarm(
        self,
        label: str,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, pulumi.Input[str]],
        *,
        threshold: float,
        what: str,
        statistic: str = "Sum",
        periods: int = 1,
    ) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{label}",
            name=f"chatbot-{self._stack}-{label}",
            alarm_description=f"{what}: see docs/DEPLOY.md, 'When it is up'",
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=300,
            evaluation_periods=periods,
            threshold=threshold,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",  # no traffic is no problem
            alarm_actions=[self.topic_arn],
            ok_actions=[self.topic_arn],
            opts=pulumi.ResourceOptions(parent=self),
        )
