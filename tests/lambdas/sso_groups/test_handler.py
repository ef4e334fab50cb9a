"""The pre-token-generation trigger, driven with Cognito's documented V1_0 event (developer guide,
"Pre token generation Lambda trigger": version, triggerSource, region, userPoolId, userName,
callerContext, request {userAttributes, groupConfiguration}, response {claimsOverrideDetails})."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from chatbot.policy.limits import ROLE_PATTERN
from lambdas.sso_groups import handler as trigger

ADMINS = "5b0f7c2e-8e8a-4d0b-9a51-0a3c7f1e2d44"
MAPPING = {ADMINS: ["admin"], "research-team-id": ["research"], "both": ["admin", "research"]}


def v1_event(attributes: dict[str, str], pool_groups: list[str] | None = None) -> dict[str, Any]:
    """A V1_0 event as Cognito sends it after a hosted-UI sign-in (response not yet filled)."""
    return {
        "version": "1",
        "triggerSource": "TokenGeneration_HostedAuth",
        "region": "us-east-1",
        "userPoolId": "us-east-1_EXAMPLE",
        "userName": "Entra_q1w2e3r4t5",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789"},
        "request": {
            "userAttributes": attributes,
            "groupConfiguration": {
                "groupsToOverride": pool_groups or [],
                "iamRolesToOverride": [],
                "preferredRole": None,
            },
        },
        "response": {"claimsOverrideDetails": None},
    }


def federated(groups: str, provider: str = "Entra") -> dict[str, str]:
    identities = [
        {
            "userId": "q1w2e3r4t5",
            "providerName": provider,
            "providerType": "OIDC",
            "issuer": None,
            "primary": "true",
            "dateCreated": "1700000000000",
        }
    ]
    return {
        "sub": "11111111-2222-3333-4444-555555555555",
        "cognito:user_status": "EXTERNAL_PROVIDER",
        "identities": json.dumps(identities),
        "email": "ada@example.com",
        "custom:groups": groups,
    }


def run(event: dict[str, Any]) -> dict[str, Any]:
    return trigger.override(copy.deepcopy(event), "Entra", "custom:groups", MAPPING)


def groups_of(result: dict[str, Any]) -> list[str]:
    return result["response"]["claimsOverrideDetails"]["groupOverrideDetails"]["groupsToOverride"]


def test_a_federated_users_mapped_groups_become_roles_in_cognito_groups():
    result = run(v1_event(federated(f'["{ADMINS}","research-team-id","unmapped"]'), ["beta-testers"]))
    details = result["response"]["claimsOverrideDetails"]
    assert details["groupOverrideDetails"] == {
        "groupsToOverride": ["beta-testers", "admin", "research"],
        "iamRolesToOverride": [],
    }
    # the raw attribute stays out of the ID token; the request is returned as it came
    assert details["claimsToSuppress"] == ["custom:groups"]
    assert (
        result["request"]
        == v1_event(federated(f'["{ADMINS}","research-team-id","unmapped"]'), ["beta-testers"])["request"]
    )


@pytest.mark.parametrize(
    "value",
    [
        f'["{ADMINS}", "research-team-id"]',  # an OIDC array claim, as JSON text
        f"[{ADMINS}, research-team-id]",  # a multi-valued SAML attribute
        f"{ADMINS},research-team-id",
    ],
)
def test_each_shape_of_a_multi_valued_attribute_is_read(value: str):
    assert groups_of(run(v1_event(federated(value)))) == ["admin", "research"]


def test_one_group_and_no_group():
    assert groups_of(run(v1_event(federated(ADMINS)))) == ["admin"]
    assert groups_of(run(v1_event(federated("")))) == []
    assert groups_of(run(v1_event(federated("[]")))) == []


def test_unmapped_groups_give_nothing_even_one_called_admin():
    assert groups_of(run(v1_event(federated('["admin", "Domain Users"]')))) == []


def test_roles_are_given_once():
    assert groups_of(run(v1_event(federated(f'["both", "{ADMINS}"]'), ["admin"]))) == ["admin", "research"]


def test_a_pool_user_cannot_give_itself_roles_through_the_attribute():
    attributes = {**federated(f'["{ADMINS}"]'), "cognito:user_status": "CONFIRMED"}
    del attributes["identities"]
    assert groups_of(run(v1_event(attributes, ["readers"]))) == ["readers"]


def test_another_providers_users_are_not_trusted_with_the_attribute():
    assert groups_of(run(v1_event(federated(f'["{ADMINS}"]', provider="Okta")))) == []


def test_iam_roles_from_the_pool_are_kept():
    event = v1_event(federated(ADMINS), ["admin"])
    event["request"]["groupConfiguration"].update(
        iamRolesToOverride=["arn:aws:iam::123456789012:role/r"],
        preferredRole="arn:aws:iam::123456789012:role/r",
    )
    override = run(event)["response"]["claimsOverrideDetails"]["groupOverrideDetails"]
    assert override["iamRolesToOverride"] == ["arn:aws:iam::123456789012:role/r"]
    assert override["preferredRole"] == "arn:aws:iam::123456789012:role/r"


def test_a_refresh_with_no_attribute_suppresses_nothing():
    attributes = federated(ADMINS)
    del attributes["custom:groups"]
    event = v1_event(attributes, ["admin"])
    event["triggerSource"] = "TokenGeneration_RefreshTokens"
    details = run(event)["response"]["claimsOverrideDetails"]
    assert "claimsToSuppress" not in details
    assert details["groupOverrideDetails"]["groupsToOverride"] == ["admin"]


def test_the_lambda_handler_reads_its_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv(trigger.PROVIDER_ENV, "Entra")
    monkeypatch.setenv(trigger.ATTRIBUTE_ENV, "custom:groups")
    monkeypatch.setenv(trigger.ROLE_MAPPING_ENV, json.dumps(MAPPING))
    result = trigger.handler(v1_event(federated(f'["{ADMINS}"]')), None)
    assert groups_of(result) == ["admin"]
    json.dumps(result)  # Cognito reads the answer as JSON


def test_the_trigger_takes_role_names_as_the_app_does():
    assert trigger.ROLE_PATTERN.pattern == ROLE_PATTERN
