"""`chatbot:limits`: the stack's default limits per role reach the chat API's environment, and a
typo is refused before any resource, naming the key."""

from __future__ import annotations

import pytest

from chatbot.errors import ConfigError
from infra.checks.offline import ResourceGraph
from infra.checks.offline_stack import offline_run
from lambdas.chat_api.settings import ChatApiSettings
from tests.infra.support import one, stack_config

FUNCTION = "aws:lambda/function:Function"


def test_the_stacks_limits_become_the_chat_apis_defaults():
    limits = {"user": {"tokens_per_day": 200000}, "research": {"usd_per_month": 50}}
    run = offline_run("dev", stack_config("dev", limits=limits))
    env = one(run.graph, FUNCTION, "chat-function").inputs["environment"]["variables"]
    roles = ChatApiSettings.from_env(env).limits.roles
    assert roles["user"].tokens_per_day == 200000
    assert roles["research"].usd_per_month == 50


def test_a_typo_in_the_limits_names_the_key():
    graph = ResourceGraph()
    with pytest.raises(ConfigError, match=r"chatbot:limits\.roles\.user\.tokens_per_week"):
        offline_run("dev", stack_config("dev", limits={"user": {"tokens_per_week": 5}}), graph=graph)
    assert graph.resources == []
