"""A cold start does only what its first answer needs (issue 25; timed by benchmarks/cold_start.py):
importing the app loads neither the text splitters nor retrieval nor boto3, and the start-up
builds no service and connects to nothing; each service is built by the first request that
needs it. Each check runs in a fresh interpreter, whose sys.modules is the app's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from infra.config import PROJECT_ROOT
from tests.servers import free_port

#: Modules a cold start has no use for before a request needs them.
DEFERRED_MODULES = (
    "langchain_text_splitters",
    "langchain_core",
    "chatbot.retrieval.service",
    "chatbot.chat.postgres_store",
    "chatbot.chat.dynamodb_store",
    "boto3",
)

START_AND_ASK = """
import json, sys
from fastapi.testclient import TestClient
from lambdas.chat_api.app import app
from chatbot.api.local_tokens import local_secret
from lambdas.chat_api.auth import LocalTokens
from lambdas.chat_api.settings import ChatApiSettings

token = LocalTokens(local_secret(ChatApiSettings.from_env().secret_file)).issue("ana")
headers = {"Authorization": f"Bearer " + token}
with TestClient(app) as client:
    models = client.get("/models", headers=headers)
    built = [name for name in ("catalog", "clients", "service", "retrieval", "stream_leases", "direct_uploads")
             if app.state.built(name)]
    loaded = [name for name in sys.argv[1:] if name in sys.modules]
    sessions = client.get("/sessions", headers=headers)
print(json.dumps({
    "models": [models.status_code, [model["name"] for model in models.json()]],
    "built_for_models": built,
    "loaded_for_models": loaded,
    "sessions": [sessions.status_code, sessions.json()],
}))
"""


def run_python(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def test_importing_the_app_loads_none_of_what_only_some_requests_need():
    code = "import json, sys, lambdas.chat_api.app; print(json.dumps([m for m in sys.argv[1:] if m in sys.modules]))"
    assert json.loads(run_python(code, *DEFERRED_MODULES)) == []


def test_the_start_up_connects_to_nothing_and_models_are_listed_without_the_chat_service(tmp_path: Path):
    # Documents on, history in Postgres, and nothing listens at the database's address: a start-up
    # that connected or migrated would fail here.
    nowhere = f"postgresql://chatbot:secret@127.0.0.1:{free_port()}/chatbot"
    env = {
        "CHATBOT_MODELS_FILE": "models.yaml",
        "DATABASE_URL": nowhere,
        "CHATBOT_DOCUMENTS": "true",
        "CHATBOT_LOCAL_SECRET_FILE": str(tmp_path / "local-auth-secret"),
        "CHATBOT_USERS_FILE": str(tmp_path / "users.yaml"),
        "SAGEMAKER_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
    }
    answers = json.loads(run_python(START_AND_ASK, *DEFERRED_MODULES, env=env))
    assert answers["models"][0] == 200, answers
    assert "smollm2-135m" in answers["models"][1], answers
    assert answers["built_for_models"] == ["catalog"], answers
    assert answers["loaded_for_models"] == [], answers
    # The first request that needs the history builds it, and meets the database's absence as a
    # 503 that says what to check, not the start-up.
    status, body = answers["sessions"]
    assert status == 503, answers
    assert body["error"]["code"] == "database_unavailable", answers
    assert "DATABASE_URL" in body["error"]["message"], answers
