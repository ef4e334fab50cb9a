"""`python -m infra.smoke`, pointed at the local stack's URLs: the same command that checks a
deployed stack after `pulumi up` (sign in, models, chat, compare, /v1, a grounded answer, clean
up), run here against the real chat API, model server and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatbot.api.local_tokens import local_secret
from infra.checks import smoke
from lambdas.chat_api.auth import LocalTokens
from tests.lambdas.chat_api.conftest import api_env
from tests.servers import chat_api_server


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("smoke") / "local-auth-secret"


@pytest.fixture(scope="module")
def local_api(model_server_url, postgres_server_url, secret_file: Path) -> Iterator[str]:
    with chat_api_server(api_env(model_server_url, postgres_server_url, secret_file, "smoke_tests")) as url:
        yield url


def test_the_smoke_command_passes_every_step_on_the_local_stack_and_cleans_up(
    local_api: str, secret_file: Path, capsys
):
    status = smoke.main(["--api-url", local_api, "--local-secret-file", str(secret_file), "--user", "smoke"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    for step in (
        "sign in",
        "models",
        "chat",
        "compare",
        "/v1 chat completion",
        "document, grounded answer",
        "clean up",
    ):
        assert f"\n{step}" in "\n" + printed, printed
    assert "FAIL" not in printed
    # What it made is gone: conversations, the document, the API key.
    token = LocalTokens(local_secret(secret_file)).issue("smoke")
    with httpx.Client(base_url=local_api, headers={"Authorization": f"Bearer {token}"}) as api:
        assert api.get("/sessions").json()["sessions"] == []
        assert [d for d in api.get("/documents").json() if d["name"].startswith("smoke-")] == []
        assert [k for k in api.get("/api-keys").json() if k["active"]] == []


def test_a_failing_step_shows_in_the_table_and_the_exit_status(local_api: str, secret_file: Path, capsys):
    status = smoke.main(
        ["--api-url", local_api, "--local-secret-file", str(secret_file), "--models", "no-such-model"]
    )
    printed = capsys.readouterr().out
    assert status == 1
    assert "FAIL" in printed
    assert "no-such-model" in printed


def test_against_a_stack_it_signs_a_test_user_in_through_the_pool_and_removes_it_after(monkeypatch):
    """--stack: the user is made in the stack's pool, signed in with the admin API (the web client
    has a secret: SECRET_HASH), its ID token rides in X-Id-Token (Authorization carries SigV4),
    and it is gone afterwards. moto's Cognito; moto does not enforce a client's auth flows."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name="us-east-1")
        pool = cognito.create_user_pool(PoolName="chatbot-dev")["UserPool"]["Id"]
        client = cognito.create_user_pool_client(
            UserPoolId=pool,
            ClientName="web",
            GenerateSecret=True,
            ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
        )["UserPoolClient"]["ClientId"]
        outputs = {
            "user_pool_id": pool,
            "user_pool_client_id": client,
            "chat_api_url": "https://chat.lambda-url.us-east-1.on.aws/",
            "gateway_url": "https://gateway.cloudfront.net/v1",
        }
        monkeypatch.setattr(smoke, "stack_outputs", lambda stack: outputs)
        with smoke.aws_target("dev", "us-east-1") as target:
            assert target.api.headers["X-Id-Token"].count(".") == 2  # a JWT
            assert str(target.api.base_url) == "https://chat.lambda-url.us-east-1.on.aws"
            assert target.gateway_url == outputs["gateway_url"]
            [user] = cognito.list_users(UserPoolId=pool)["Users"]
            assert user["Username"].startswith("smoke-")
            target.remove_user()  # as the clean-up step does
        assert cognito.list_users(UserPoolId=pool)["Users"] == []
