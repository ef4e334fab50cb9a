"""moto with IAM enforced: identities whose only permissions are the policy documents the Pulumi
program writes (taken from the mocked graph), so every AWS call the running code makes is checked
against them.

moto checks S3 and SQS calls against resource ARNs; for DynamoDB and Secrets Manager it asks only
whether the action is allowed on "*". For those services a statement is kept when it names the
resource under test, with "*" as its resource: the action list is what gets proven there.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws, settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.botocore_stubber import BotocoreStubber

from infra.checks.offline import ResourceGraph
from tests.infra.support import one, policy

REGION = "us-east-1"
#: Services where moto matches actions only (see the module's docstring).
ACTION_ONLY = ("dynamodb:", "secretsmanager:")
#: Requests moto lets through unsigned: creating the admin user and its key.
SETUP_REQUESTS = 3


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str

    def session(self) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key, region_name=REGION
        )


def role_statements(graph: ResourceGraph, role_name: str) -> list[dict[str, Any]]:
    role = one(graph, "aws:iam/role:Role", role_name)
    return [
        statement
        for inline in graph.of_type("aws:iam/rolePolicy:RolePolicy")
        if inline.inputs.get("role") == role.id
        for statement in policy(inline)
    ]


def for_moto(statements: list[dict[str, Any]], resources: list[str], renames: dict[str, str]) -> str:
    """The statements as moto can check them: `renames` maps the graph's physical names to the
    names the test's resources have; action-only services get Resource "*" when they name one of
    `resources`."""
    kept = []
    for statement in json.loads(_renamed(json.dumps(statements), renames)):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        named = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if all(action.startswith(ACTION_ONLY) for action in actions):
            if not any(fnmatch.fnmatchcase(resource, pattern) for resource in resources for pattern in named):
                continue
            statement = {**statement, "Resource": "*"}
        if {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= set(actions):
            # AWS checks each write of a TransactWriteItems against its own action (there is no
            # IAM action of that name); moto checks the operation's name instead.
            statement = {**statement, "Action": [*actions, "dynamodb:TransactWriteItems"]}
        if "s3:DeleteObject" in actions:
            # AWS checks each key of a DeleteObjects against s3:DeleteObject on that key; moto
            # first checks s3:DeleteObject on the bucket itself, and without it fails every key.
            buckets = sorted({resource.split("/", 1)[0] for resource in named if "/" in resource})
            statement = {**statement, "Resource": [*named, *buckets]}
        kept.append(statement)
    return json.dumps({"Version": "2012-10-17", "Statement": kept})


def _renamed(text: str, renames: dict[str, str]) -> str:
    for old, new in sorted(renames.items(), key=lambda item: -len(item[0])):
        text = text.replace(old, new)
    return text


class EnforcedAws:
    """An admin for set-up, and users that hold exactly one policy document each."""

    def __init__(self, admin: Credentials):
        self.admin = admin
        self._iam = admin.session().client("iam")

    def user(self, name: str, document: str) -> Credentials:
        self._iam.create_user(UserName=name)
        self._iam.put_user_policy(UserName=name, PolicyName="from-the-pulumi-graph", PolicyDocument=document)
        key = self._iam.create_access_key(UserName=name)["AccessKey"]
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


@contextmanager
def enforced_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[EnforcedAws]:
    # moto answers each request atomically only under a lock (as DynamoDB does per request).
    stubber_call = BotocoreStubber.__call__
    lock = threading.Lock()

    def atomic_call(self, *args, **kwargs):
        with lock:
            return stubber_call(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", atomic_call)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", SETUP_REQUESTS)
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)
    with mock_aws():
        iam = boto3.client(
            "iam", region_name=REGION, aws_access_key_id="setup", aws_secret_access_key="setup"
        )
        iam.create_user(UserName="admin")
        iam.put_user_policy(
            UserName="admin",
            PolicyName="admin",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        yield EnforcedAws(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))


def use_default_credentials(monkeypatch: pytest.MonkeyPatch, credentials: Credentials) -> None:
    """Code that builds its own clients (boto3's default session) runs as `credentials`."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
