"""The chat API accepts a federated user's ID token as the SSO trigger shapes it: Cognito's
`cognito:groups` replaced by the trigger's groupsToOverride (the pool's groups plus the roles the
provider's groups map to), `identities` naming the provider, `custom:groups` suppressed.

moto's Cognito runs no triggers, so the token is signed here with a key of our own, served to the
verifier as the pool's JWKS: everything else (issuer, audience, expiry, token use, the claim the
roles come from) is checked as for a real token."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from chatbot.api.quotas import Limits
from chatbot.policy.limits import effective_limits
from lambdas.chat_api.auth import AuthError, CognitoTokens, ForbiddenError
from lambdas.sso_groups.handler import override
from tests.lambdas.sso_groups.test_handler import ADMINS, MAPPING, federated, v1_event

REGION, POOL, CLIENT = "us-east-1", "us-east-1_EXAMPLE", "1example23456789"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def verifier(signing_key: rsa.RSAPrivateKey) -> CognitoTokens:
    verifier = CognitoTokens(REGION, POOL, CLIENT)
    jwk = json.loads(RSAAlgorithm.to_jwk(signing_key.public_key()))
    jwks = {"keys": [{**jwk, "kid": "pool-key", "alg": "RS256", "use": "sig"}]}
    verifier._fetch = lambda: {key["kid"]: jwt.PyJWK(key) for key in jwks["keys"]}  # type: ignore[method-assign]
    return verifier


def id_token(key: rsa.RSAPrivateKey, groups: list[str], **changes: Any) -> str:
    """A Cognito ID token of a user who came through the Entra provider (V1_0 trigger applied)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "11111111-2222-3333-4444-555555555555",
        "cognito:groups": groups,
        "iss": ISSUER,
        "cognito:username": "Entra_q1w2e3r4t5",
        "origin_jti": "00000000-0000-0000-0000-000000000000",
        "aud": CLIENT,
        "identities": [
            {
                "userId": "q1w2e3r4t5",
                "providerName": "Entra",
                "providerType": "OIDC",
                "issuer": None,
                "primary": "true",
                "dateCreated": "1700000000000",
            }
        ],
        "token_use": "id",
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "jti": "00000000-0000-0000-0000-000000000001",
        "email": "ada@example.com",
        **changes,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "pool-key"})


def groups_from_trigger(attribute: str, pool_groups: list[str] | None = None) -> list[str]:
    """What the trigger puts in cognito:groups for a user whose provider sent `attribute`."""
    event = override(v1_event(federated(attribute), pool_groups), "Entra", "custom:groups", MAPPING)
    return event["response"]["claimsOverrideDetails"]["groupOverrideDetails"]["groupsToOverride"]


def test_a_provider_group_mapped_to_admin_makes_an_administrator(signing_key, verifier):
    groups = groups_from_trigger(f'["{ADMINS}", "unmapped"]')
    caller = verifier.caller(id_token(signing_key, groups))
    assert caller.user_id == "11111111-2222-3333-4444-555555555555"
    assert caller.is_admin
    assert caller.require_admin() is caller
    assert caller.groups == {"admin"}


def test_a_provider_group_mapped_to_a_group_gets_that_groups_limits(signing_key, verifier):
    caller = verifier.caller(id_token(signing_key, groups_from_trigger('["research-team-id"]')))
    assert not caller.is_admin
    with pytest.raises(ForbiddenError):
        caller.require_admin()
    assert caller.groups == {"research"}
    role_limits = {"user": Limits(tokens_per_day=1000), "research": Limits(tokens_per_day=50_000)}
    # quota_routes takes the caller's roles and groups (the most generous value wins)
    assert effective_limits({*caller.roles, *caller.groups}, role_limits).tokens_per_day == 50_000


def test_pool_groups_and_mapped_roles_arrive_together(signing_key, verifier):
    groups = groups_from_trigger(f'["{ADMINS}"]', ["beta-testers"])
    caller = verifier.caller(id_token(signing_key, groups))
    assert caller.groups == {"beta-testers", "admin"}
    assert caller.roles == {"admin"}


def test_a_federated_user_without_mapped_groups_is_an_ordinary_user(signing_key, verifier):
    caller = verifier.caller(id_token(signing_key, groups_from_trigger('["Domain Users"]')))
    assert caller.roles == frozenset()
    assert caller.groups == frozenset()
    # and with no cognito:groups claim at all (Cognito leaves it out when the list is empty)
    token = jwt.encode(
        {
            k: v
            for k, v in jwt.decode(id_token(signing_key, []), options={"verify_signature": False}).items()
            if k != "cognito:groups"
        },
        signing_key,
        algorithm="RS256",
        headers={"kid": "pool-key"},
    )
    assert verifier.caller(token).roles == frozenset()


def test_the_raw_provider_attribute_gives_no_role(signing_key, verifier):
    # Were custom:groups left in the token (no trigger), the API would still read cognito:groups only.
    caller = verifier.caller(id_token(signing_key, [], **{"custom:groups": f'["{ADMINS}", "admin"]'}))
    assert caller.roles == frozenset()


def test_a_token_of_that_shape_from_another_pool_or_key_is_refused(signing_key, verifier):
    groups = groups_from_trigger(f'["{ADMINS}"]')
    with pytest.raises(AuthError, match="not valid"):
        verifier.caller(
            id_token(signing_key, groups, iss=f"https://cognito-idp.{REGION}.amazonaws.com/other")
        )
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(AuthError, match="not valid"):
        verifier.caller(id_token(other_key, groups))
