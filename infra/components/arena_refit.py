"""ArenaRefit: an EventBridge Scheduler schedule that has the chat API refit the arena's
leaderboard, so a quiet arena converges too (votes refit it as they arrive: chatbot/chat/
leaderboard_cache.py).

The schedule invokes the chat API function with REFIT_EVENT; the Lambda Web Adapter passes an
event that is not an HTTP request to the app as `POST /events` (its pass-through path), and
lambdas/chat_api/arena_routes.py refits under the store's lease. The schedule's role may invoke
that one function, nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from chatbot.api.arena import REFIT_EVENT
from infra.components.iam import allow, policy_document


def scheduler_trust_policy(account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """EventBridge Scheduler may assume the role, for this account's schedules only."""
    return pulumi.Output.from_input(account_id).apply(
        lambda account: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "scheduler.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                    }
                ],
            }
        )
    )


@dataclass
class ArenaRefitArgs:
    stack: str
    function_arn: pulumi.Input[str]
    #: How often a refit runs without votes (EventBridge Scheduler's rate or cron expression).
    schedule_expression: str = "rate(5 minutes)"


class ArenaRefit(pulumi.ComponentResource):
    schedule_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ArenaRefitArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:arena:ArenaRefit", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        role = aws.iam.Role(f"{name}-role", assume_role_policy=scheduler_trust_policy(account_id), opts=child)
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=policy_document([allow(["lambda:InvokeFunction"], [args.function_arn])]),
            opts=child,
        )
        schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            name=f"chatbot-{args.stack}-arena-refit",
            schedule_expression=args.schedule_expression,
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=args.function_arn,
                role_arn=role.arn,
                input=json.dumps(REFIT_EVENT),
                # A missed refit is made up by the next one.
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(maximum_retry_attempts=0),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.schedule_arn = schedule.arn
        self.register_outputs({"schedule_arn": self.schedule_arn})
