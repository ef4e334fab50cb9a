"""Kill the chat API mid-stream: nobody settles the answer, and its hold comes back once its
lease is over. The real API process, the real model server and Postgres."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from chatbot.api.local_tokens import local_secret
from chatbot.policy.postgres_quotas import PostgresQuotaStore
from chatbot.policy.quotas import DEFAULT_LEASE_S
from chatbot.postgres import ConnectionPool, create_database
from lambdas.chat_api.auth import LocalTokens
from tests.lambdas.chat_api.conftest import api_env
from tests.servers import free_port, running_server

BUDGET = 1000


def test_killing_the_api_mid_stream_gives_the_budget_back_after_the_lease(
    model_server_url: str, postgres_server_url: str, tmp_path: Path
):
    secret = tmp_path / "local-auth-secret"
    env = api_env(
        model_server_url,
        postgres_server_url,
        secret,
        "quota_crash",
        CHATBOT_LIMITS=json.dumps({"user": {"tokens_per_day": BUDGET}}),
    )
    port = free_port()
    args = ["-m", "lambdas.chat_api", "--port", str(port), "--exit-with-stdin"]
    token = LocalTokens(local_secret(secret)).issue("kai")
    body = {
        "model": "smollm2-135m",
        "message": "Tell me a long story.",
        "parameters": {"max_new_tokens": 600},
    }
    with (
        running_server(args, f"http://127.0.0.1:{port}/health", env=env) as api,
        httpx.stream(
            "POST",
            f"http://127.0.0.1:{port}/chat",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        ) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if json.loads(line)["type"] == "token":
                break  # mid-answer
        api.kill()  # no settle, no release: the process is gone
        api.wait()

    pool = ConnectionPool(create_database(postgres_server_url, "quota_crash"), max_connections=2)
    try:
        now = datetime.now(UTC)
        ledger = PostgresQuotaStore(pool, clock=lambda: now)
        period = f"day:{now:%Y-%m-%d}"
        held = ledger.used("user:kai", period)
        assert held > 600, "the dead answer's hold is still there"
        assert ledger.usage_by_day_and_model("kai", now.strftime("%Y-%m-%d"), now.strftime("%Y-%m-%d")) == []
        later = now + timedelta(seconds=DEFAULT_LEASE_S + 1)
        ledger_later = PostgresQuotaStore(pool, clock=lambda: later)
        granted = ledger_later.admit("kai", model="smollm2-135m", prompt_tokens=0, max_new_tokens=BUDGET)
        assert granted.max_new_tokens == BUDGET, "the whole budget came back"
    finally:
        pool.close()
