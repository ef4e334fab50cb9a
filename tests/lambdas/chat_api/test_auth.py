"""Both token verifiers. moto's cognito-idp issues real RS256 ID tokens and serves the pool's JWKS."""

from __future__ import annotations

from pathlib import Path

import boto3
import jwt
import pytest
from moto import mock_aws

from chatbot.api.local_tokens import local_secret
from lambdas.chat_api.auth import (
    AuthError,
    Caller,
    CognitoTokens,
    ForbiddenError,
    LocalTokens,
    user_token,
)


@pytest.fixture
def cognito():
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="us-east-1")
        pool = idp.create_user_pool(PoolName="chatbot")["UserPool"]["Id"]
        client = idp.create_user_pool_client(
            UserPoolId=pool, ClientName="streamlit", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(
            UserPoolId=pool, Username="alice", TemporaryPassword="Temp-Passw0rd!", MessageAction="SUPPRESS"
        )
        idp.admin_set_user_password(
            UserPoolId=pool, Username="alice", Password="Real-Passw0rd!", Permanent=True
        )
        tokens = idp.admin_initiate_auth(
            UserPoolId=pool,
            ClientId=client,
            AuthFlow="ADMIN_NO_SRP_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": "Real-Passw0rd!"},
        )["AuthenticationResult"]
        yield pool, client, tokens


def test_a_cognito_id_token_gives_the_users_sub(cognito):
    pool, client, tokens = cognito
    verifier = CognitoTokens("us-east-1", pool, client)
    assert (
        verifier.user_id(tokens["IdToken"])
        == jwt.decode(tokens["IdToken"], options={"verify_signature": False})["sub"]
    )


def test_a_token_for_another_app_client_or_pool_is_refused(cognito):
    pool, client, tokens = cognito
    with pytest.raises(AuthError, match="Audience doesn't match"):
        CognitoTokens("us-east-1", pool, "another-client").user_id(tokens["IdToken"])
    with pytest.raises(AuthError, match="not valid"):
        CognitoTokens("us-east-1", pool + "x", client).user_id(tokens["IdToken"])


def test_an_access_token_is_not_an_id_token(cognito):
    pool, client, tokens = cognito
    with pytest.raises(AuthError):
        CognitoTokens("us-east-1", pool, client).user_id(tokens["AccessToken"])


def test_a_tampered_cognito_token_is_refused(cognito):
    pool, client, tokens = cognito
    header, _payload, signature = tokens["IdToken"].split(".")
    forged = jwt.encode({"sub": "mallory"}, "k" * 32, algorithm="HS256").split(".")[1]
    with pytest.raises(AuthError, match="not valid"):
        CognitoTokens("us-east-1", pool, client).user_id(f"{header}.{forged}.{signature}")


def test_local_tokens_round_trip_and_expire(tmp_path: Path):
    secret_file = tmp_path / "secret"
    tokens = LocalTokens(local_secret(secret_file))
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert local_secret(secret_file) == local_secret(secret_file), "made once, then reused"
    assert tokens.user_id(tokens.issue("alice")) == "alice"
    with pytest.raises(AuthError, match="expired"):
        tokens.user_id(tokens.issue("alice", ttl_s=-5))
    with pytest.raises(AuthError, match="not valid"):
        LocalTokens("y" * 40).user_id(tokens.issue("alice"))


def test_a_cognito_group_named_admin_gives_the_admin_role(cognito):
    pool, client, tokens = cognito
    verifier = CognitoTokens("us-east-1", pool, client)
    assert not verifier.caller(tokens["IdToken"]).is_admin, "no group, no role"
    idp = boto3.client("cognito-idp", region_name="us-east-1")
    idp.create_group(GroupName="admin", UserPoolId=pool)
    idp.create_group(GroupName="testers", UserPoolId=pool)
    for group in ("admin", "testers"):
        idp.admin_add_user_to_group(UserPoolId=pool, Username="alice", GroupName=group)
    id_token = idp.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=client,
        AuthFlow="ADMIN_NO_SRP_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": "Real-Passw0rd!"},
    )["AuthenticationResult"]["IdToken"]
    caller = verifier.caller(id_token)
    assert caller.is_admin
    assert caller.roles == {"admin"}, "groups that name no role give none"


def test_local_tokens_carry_the_roles_they_were_issued_with(tmp_path: Path):
    tokens = LocalTokens(local_secret(tmp_path / "secret"))
    assert tokens.caller(tokens.issue("alice", roles=["admin"])) == Caller("alice", frozenset({"admin"}))
    assert not tokens.caller(tokens.issue("bob")).is_admin
    assert tokens.caller(tokens.issue("eve", roles=["root"])).roles == frozenset(), (
        "unknown roles are ignored"
    )
    with pytest.raises(ForbiddenError, match="Only an administrator can do this"):
        tokens.caller(tokens.issue("bob")).require_admin()


def test_the_token_comes_from_x_id_token_or_a_bearer_authorization_header():
    assert user_token({"authorization": "Bearer abc"}) == "abc"
    # Behind AWS_IAM auth, Authorization holds the SigV4 signature; the user's token comes apart.
    assert user_token({"authorization": "AWS4-HMAC-SHA256 Credential=...", "x-id-token": "xyz"}) == "xyz"
    for headers in ({}, {"authorization": ""}, {"authorization": "Basic abc"}, {"authorization": "Bearer "}):
        with pytest.raises(AuthError, match="Sign in first"):
            user_token(headers)
