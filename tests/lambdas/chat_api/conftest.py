from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatbot.api.local_tokens import local_secret
from chatbot.postgres import create_database
from lambdas.chat_api.auth import LocalTokens
from tests.servers import chat_api_server


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("secrets") / "local-auth-secret"


def api_env(
    model_server_url: str, postgres_server_url: str, secret_file: Path, database: str, **settings: str
) -> dict[str, str]:
    """The chat API's environment as `make chat` sets it, on its own database, plus `settings`."""
    return {
        "CHATBOT_MODELS_FILE": "models.yaml",
        "SAGEMAKER_ENDPOINT_URL": model_server_url,
        "DATABASE_URL": create_database(postgres_server_url, database),
        "CHATBOT_LOCAL_SECRET_FILE": str(secret_file),
        "CHATBOT_USERS_FILE": str(secret_file.parent / "users.yaml"),
        **settings,
    }


@pytest.fixture(scope="module")
def api_database(request: pytest.FixtureRequest) -> str:
    """The name of the `api_url` API's database: the test module's own, so that what one module
    stores never shows in another's lists."""
    return "chat_api_" + request.module.__name__.rsplit(".", 1)[-1]


@pytest.fixture(scope="module")
def api_url(
    model_server_url: str, postgres_server_url: str, secret_file: Path, api_database: str
) -> Iterator[str]:
    """The real chat API in its own process, configured as `make chat` configures it."""
    env = api_env(
        model_server_url, postgres_server_url, secret_file, api_database, CHATBOT_MAX_MESSAGE_CHARS="2000"
    )
    with chat_api_server(env) as url:
        yield url


@pytest.fixture(scope="module")
def tokens(api_url: str, secret_file: Path) -> LocalTokens:
    return LocalTokens(local_secret(secret_file))


def client_for(api_url: str, tokens: LocalTokens, user: str) -> httpx.Client:
    return httpx.Client(
        base_url=api_url, headers={"Authorization": f"Bearer {tokens.issue(user)}"}, timeout=60
    )


@pytest.fixture
def alice(api_url: str, tokens: LocalTokens) -> Iterator[httpx.Client]:
    with client_for(api_url, tokens, "alice") as client:
        yield client


@pytest.fixture
def bob(api_url: str, tokens: LocalTokens) -> Iterator[httpx.Client]:
    with client_for(api_url, tokens, "bob") as client:
        yield client
