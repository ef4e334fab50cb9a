"""Secrets Manager calls checked against the secret they touch, not only their action.

moto asks whether a Secrets Manager action is allowed on "*" (tests/infra/iam_enforced.py). A
grant scoped to a name prefix needs the secret's ARN checked as well: moto's responses ask
`_determine_resource` for it (as its SQS and IAM responses do), so this gives the Secrets Manager
response one, answering the ARN AWS evaluates: the named secret's own ARN; for a secret that does
not exist yet, its name in an ARN (with six characters appended when it is being created, as
Secrets Manager appends them).
"""

from __future__ import annotations

import pytest
from moto.secretsmanager.responses import SecretsManagerResponse

#: The six characters Secrets Manager appends to a new secret's name in its ARN.
NEW_SECRET_SUFFIX = "-AbC123"


def _secret_arn(response: SecretsManagerResponse) -> str:
    base = f"arn:aws:secretsmanager:{response.region}:{response.current_account}:secret:"
    if response._get_action() == "CreateSecret":
        return f"{base}{response._get_param('Name')}{NEW_SECRET_SUFFIX}"
    secret_id = response._get_param("SecretId")
    if secret_id is None:
        return "*"  # ListSecrets, GetRandomPassword: no resource in IAM either
    existing = response.backend.secrets.get(secret_id)
    if existing is not None:
        return existing.arn
    return secret_id if secret_id.startswith("arn:") else f"{base}{secret_id}"


def check_secret_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, moto checks each Secrets Manager call against its secret's ARN."""
    monkeypatch.setattr(SecretsManagerResponse, "_determine_resource", _secret_arn, raising=False)
