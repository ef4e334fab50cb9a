"""Pre-token-generation trigger (event version V1_0): a federated user's provider groups become
the app's roles in the ID token's `cognito:groups`.

Cognito's `cognito:groups` lists only the pool's own groups; a federated provider's groups reach
the pool through attribute mapping, into the user's `custom:groups` (infra/config.py SsoConfig).
This trigger reads that attribute, maps each provider group to roles (CHATBOT_SSO_ROLE_MAPPING,
from the stack file's `chatbot:sso.role_mapping`) and answers with

    response.claimsOverrideDetails.groupOverrideDetails.groupsToOverride = pool groups + roles

so the chat API (lambdas/chat_api/auth.py) and the web app read one claim for both kinds of user.
The raw attribute is suppressed from the ID token (claimsToSuppress): it may be long, and only the
mapped roles mean anything to the app.

The event and response shapes are Cognito's documented V1_0 ones (developer guide, "Pre token
generation Lambda trigger": request.userAttributes, request.groupConfiguration {groupsToOverride,
iamRolesToOverride, preferredRole}; response.claimsOverrideDetails {claimsToAddOrOverride,
claimsToSuppress, groupOverrideDetails}). V1_0 customises the ID token, which is the token the
app sends, and works on every user pool feature plan (V2_0 needs Essentials or Plus).

Only the configured provider's users are trusted with `custom:groups`: a user of the pool itself
(`cognito:user_status` other than EXTERNAL_PROVIDER), or one who came through another provider,
gets the pool groups alone, whatever that attribute holds. Standard library only: no layer.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: Environment variables the Pulumi program sets (infra/components/sso.py).
PROVIDER_ENV = "CHATBOT_SSO_PROVIDER"
ATTRIBUTE_ENV = "CHATBOT_SSO_GROUPS_ATTRIBUTE"
ROLE_MAPPING_ENV = "CHATBOT_SSO_ROLE_MAPPING"

#: Cognito's user status for a user created by federation.
EXTERNAL_PROVIDER = "EXTERNAL_PROVIDER"
#: Role names as the app takes them (chatbot/policy/limits.py ROLE_PATTERN; kept in step by a test).
ROLE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$")

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)


def provider_groups(value: str | None) -> list[str]:
    """The group names in a mapped attribute's value. Cognito stores a provider's multi-valued
    claim as text: a JSON array (`["a","b"]`, an OIDC array claim), or brackets around
    comma-separated values (`[a, b]`, seen for multi-valued SAML attributes), or one value.
    Every one of these shapes is accepted; an empty value gives no groups."""
    text = (value or "").strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = text[1:].rstrip("]").split(",")
        if isinstance(parsed, list):
            return _unique(str(item).strip() for item in parsed if str(item).strip())
    return _unique(part.strip() for part in text.split(",") if part.strip())


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def came_through(attributes: Mapping[str, str], provider: str) -> bool:
    """Did this user sign in through `provider`? Federated users have the status EXTERNAL_PROVIDER
    and an `identities` attribute (JSON: a list of {providerName, providerType, userId, ...})."""
    if attributes.get("cognito:user_status") != EXTERNAL_PROVIDER:
        return False
    try:
        identities = json.loads(attributes.get("identities") or "[]")
    except json.JSONDecodeError:
        return False
    return isinstance(identities, list) and any(
        isinstance(identity, dict) and identity.get("providerName") == provider for identity in identities
    )


def roles_for(groups: Iterable[str], mapping: Mapping[str, Iterable[str]]) -> list[str]:
    """The roles the mapping gives these provider groups; unmapped groups give none."""
    return _unique(
        role for group in groups for role in mapping.get(group, ()) if ROLE_PATTERN.fullmatch(role)
    )


def override(
    event: dict[str, Any], provider: str, attribute: str, mapping: Mapping[str, Iterable[str]]
) -> dict[str, Any]:
    """The event with its V1_0 response filled in (the pure part of the handler)."""
    request = event.get("request") or {}
    attributes: Mapping[str, str] = request.get("userAttributes") or {}
    configuration = request.get("groupConfiguration") or {}
    pool_groups = [g for g in configuration.get("groupsToOverride") or [] if isinstance(g, str)]
    roles: list[str] = []
    if came_through(attributes, provider):
        roles = roles_for(provider_groups(attributes.get(attribute)), mapping)
    group_override: dict[str, Any] = {
        "groupsToOverride": _unique([*pool_groups, *roles]),
        # Kept as Cognito sent them: the override stands for the pool groups' IAM roles too.
        "iamRolesToOverride": configuration.get("iamRolesToOverride") or [],
    }
    if isinstance(preferred := configuration.get("preferredRole"), str):
        group_override["preferredRole"] = preferred
    details: dict[str, Any] = {"groupOverrideDetails": group_override}
    if attribute in attributes:
        details["claimsToSuppress"] = [attribute]
    event["response"] = {"claimsOverrideDetails": details}
    return event


def role_mapping(text: str | None) -> dict[str, list[str]]:
    mapping = json.loads(text or "{}")
    if not isinstance(mapping, dict):
        raise ValueError(f"{ROLE_MAPPING_ENV} must be a JSON object of group -> [roles]")
    return {str(group): [str(role) for role in roles] for group, roles in mapping.items()}


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    provider = os.environ[PROVIDER_ENV]
    attribute = os.environ.get(ATTRIBUTE_ENV, "custom:groups")
    result = override(event, provider, attribute, role_mapping(os.environ.get(ROLE_MAPPING_ENV)))
    groups = result["response"]["claimsOverrideDetails"]["groupOverrideDetails"]["groupsToOverride"]
    # Who got which roles, for the audit trail in CloudWatch (no attribute values beyond that).
    log.info(
        json.dumps({"trigger": event.get("triggerSource"), "user": event.get("userName"), "groups": groups})
    )
    return result
