"""Preflight for single sign-on: the OIDC provider's client secret must be readable where the
stack file says (`chatbot:sso.client_secret_id`), by the credentials that run `pulumi up` (the
program reads it with GetSecretValue and hands it to Cognito)."""

from __future__ import annotations

import json
from typing import Any

from infra.checks.preflight_types import Check
from infra.config import StackConfig

NAME = "sso-client-secret"


def sso_client_secret(config: StackConfig, secrets: Any | None) -> Check:
    """`secrets` is a Secrets Manager client (None when the stack needs none)."""
    sso = config.sso
    if sso is None or sso.provider_type != "OIDC" or secrets is None:
        return Check(NAME, "skip", "no OIDC provider in this stack (chatbot:sso)")
    from botocore.exceptions import ClientError

    where = f"chatbot:sso.client_secret_id {sso.client_secret_id!r}"
    try:
        value = secrets.get_secret_value(SecretId=sso.client_secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        return Check(
            NAME,
            "fail",
            f"{where}: {code or exc}. Create it (aws secretsmanager create-secret --name ... "
            "--secret-string '<client secret>') or allow secretsmanager:GetSecretValue on it",
        )
    text = value.get("SecretString")
    if not text:
        return Check(NAME, "fail", f"{where}: the secret has no string value (SecretString)")
    if sso.client_secret_key is not None:
        try:
            found = sso.client_secret_key in json.loads(text)
        except (ValueError, TypeError):
            found = False
        if not found:
            return Check(NAME, "fail", f"{where}: not a JSON object with the key {sso.client_secret_key!r}")
    return Check(NAME, "ok", f"{where} is readable")
