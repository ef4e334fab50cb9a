"""The deploy's one-shot database migration: the Pulumi program invokes it once per deploy
(infra/components/migration.py), with the database's master secret, so that no function migrates at a cold
start (they run with `DB_MIGRATIONS=deploy`, the default in AWS).

It waits up to MIGRATION_WAKE_WAIT_S for a paused Aurora cluster to resume, then creates or
upgrades the schema and pins the embeddings model, as a local process does when it opens the
database. Then it makes each function's own database role (`DB_FUNCTION_ROLES`: role -> the ARN
of that role's secret), allowed rows but not the schema: a role whose secret holds no password
yet gets a new one, written there; one that has a password keeps it. Same code and layer as the
indexer, another handler."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from chatbot.api.env_settings import env_field
from chatbot.postgres import ConnectionPool, database_url, grant_function_role
from chatbot.retrieval.service import Retrieval
from lambdas.document_indexer.settings import IndexerSettings

#: A cluster resuming after a long pause takes about 30 s; a fresh one may still be starting.
MIGRATION_WAKE_WAIT_S = 300.0

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)


class MigrationSettings(IndexerSettings):
    """The indexer's settings (with the master secret), plus the roles to make."""

    #: JSON: {"<role>": "<ARN of the role's secret>"}; the program writes one per function.
    function_roles: str | None = env_field(None, "DB_FUNCTION_ROLES")

    def roles(self) -> dict[str, str]:
        return json.loads(self.function_roles) if self.function_roles else {}


def handler(event: dict[str, Any] | None = None, context: Any = None) -> dict[str, Any]:
    settings = MigrationSettings.from_env()
    database = settings.database.model_copy(
        update={"migrations": "startup", "wake_wait_s": MIGRATION_WAKE_WAIT_S}
    )
    retrieval = Retrieval.from_environment(settings.model_copy(update={"database": database}))
    retrieval.close()
    roles = settings.roles()
    if roles:
        make_function_roles(database_url(settings=database), roles)
    log.info("database migrated", extra={"embedding_model": retrieval.embedder.name, "roles": sorted(roles)})
    return {"migrated": True, "embedding_model": retrieval.embedder.name, "roles": sorted(roles)}


def make_function_roles(master_url: str, roles: dict[str, str]) -> None:
    """Each role, with the password its secret holds (a new one, written there, if none)."""
    import boto3  # the runtime's: only the migration in AWS gets here

    client = boto3.client("secretsmanager")
    pool = ConnectionPool(master_url, max_connections=1, wake_wait_s=MIGRATION_WAKE_WAIT_S)
    try:
        for role, secret_arn in roles.items():
            password = _role_password(client, secret_arn, role)
            with pool.connection() as conn:
                grant_function_role(conn, role, password)
    finally:
        pool.close()


def _role_password(client: Any, secret_arn: str, role: str) -> str:
    """The password in the role's secret; a new one, put there first, if it holds none (a new
    stack) or another role's. Put before the role is altered: a deploy that fails in between
    sets the same password next time."""
    try:
        current = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
    except client.exceptions.ResourceNotFoundException:
        current = {}  # the secret exists with no value yet: the program makes it empty
    if current.get("username") == role and current.get("password"):
        return current["password"]
    password = secrets.token_urlsafe(32)
    client.put_secret_value(
        SecretId=secret_arn, SecretString=json.dumps({"username": role, "password": password})
    )
    return password
