"""lambdas/chat_api/wiring.py: what the settings say reaches the service they build."""

from __future__ import annotations

from chatbot.postgres import create_database
from lambdas.chat_api.settings import ChatApiSettings
from lambdas.chat_api.wiring import build_services


def test_the_daily_vote_limit_is_the_deployments_setting(postgres_server_url: str):
    settings = ChatApiSettings.from_env(
        {
            "DATABASE_URL": create_database(postgres_server_url, "wiring_tests"),
            "CHATBOT_DOCUMENTS": "false",
            "CHATBOT_MAX_VOTES_PER_PAIR_PER_DAY": "3",
        }
    )
    service, retrieval = build_services(settings)
    assert retrieval is None
    assert service.votes.rules.max_votes_per_pair_per_day == 3
