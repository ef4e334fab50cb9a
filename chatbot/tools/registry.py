"""The MCP servers administrators registered: a name, a streamable-HTTP URL, an optional auth
header whose value is a secret, whether private address ranges are allowed, and the roles the
server is published to (administrators only, by default).

The secret is written once and never read back through the API: locally it is a column of the
Postgres table (the store is the local stack's secret store); in AWS it is a Secrets Manager
secret per server (`<prefix>/<name>`), and the DynamoDB item only names it.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

from chatbot.errors import ChatbotError
from chatbot.migrations import apply_migrations
from chatbot.postgres import ConnectionPool
from chatbot.tools.mcp_client import McpServerConnection

#: The role every administrator has (chatbot.api.users.ADMIN).
ADMIN_ROLE = "admin"
#: Publishes a server to every signed-in user (tokens carry no other roles yet).
EVERYONE = "everyone"


class UnknownMcpServerError(ChatbotError):
    code = "unknown_mcp_server"
    http_status = 404


class McpServer(BaseModel):
    """A registered server as administrators see it (never its secret)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    url: str = Field(max_length=2000)
    #: The header that carries the secret, e.g. "Authorization"; None: the server needs none.
    auth_header: str | None = Field(None, pattern=r"^[A-Za-z0-9-]{1,100}$")
    #: Whether a secret is stored for it.
    has_secret: bool = False
    #: Call it on a private, loopback or link-local address (off unless an administrator says so).
    allow_private: bool = False
    #: Who may choose its tools; administrators only by default.
    roles: list[str] = Field(default_factory=lambda: [ADMIN_ROLE])
    created_by: str
    created_at: datetime

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("https://", "http://")) or "@" in url.split("/")[2]:
            raise ValueError("the URL must be http:// or https:// with no user name or password in it")
        return url

    def published_to(self, roles: frozenset[str] | set[str]) -> bool:
        return ADMIN_ROLE in roles or EVERYONE in self.roles or bool(set(self.roles) & set(roles))


class McpRegistry(ABC):
    @abstractmethod
    def put(self, server: McpServer, secret: str | None) -> None:
        """Add or replace a server; `secret` None keeps a replaced server's secret."""

    @abstractmethod
    def list(self) -> list[McpServer]: ...

    @abstractmethod
    def delete(self, name: str) -> None: ...

    @abstractmethod
    def _secret(self, name: str) -> str | None: ...

    def get(self, name: str) -> McpServer:
        for server in self.list():
            if server.name == name:
                return server
        raise UnknownMcpServerError(f"No MCP server is registered as {name!r}.")

    def connection(self, name: str) -> McpServerConnection:
        """What the MCP client needs to call the server, secret included (for the tool loop only)."""
        server = self.get(name)
        secret = self._secret(name) if server.auth_header else None
        return McpServerConnection(
            name=server.name,
            url=server.url,
            auth_header=(server.auth_header, secret) if server.auth_header and secret else None,
            allow_private=server.allow_private,
        )


MIGRATIONS = [
    "CREATE TABLE IF NOT EXISTS mcp_servers ( name text PRIMARY KEY, server jsonb NOT NULL, secret text)",
]


class PostgresMcpRegistry(McpRegistry):
    def __init__(self, pool: ConnectionPool):
        self._pool = pool
        with pool.connection() as conn:
            apply_migrations(conn, "mcp_servers", MIGRATIONS)

    def put(self, server: McpServer, secret: str | None) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO mcp_servers (name, server, secret) VALUES (%(name)s, %(server)s, %(secret)s)"
                " ON CONFLICT (name) DO UPDATE SET server = excluded.server,"
                " secret = coalesce(excluded.secret, mcp_servers.secret)",
                {"name": server.name, "server": server.model_dump_json(), "secret": secret},
            )

    def list(self) -> list[McpServer]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT server, secret IS NOT NULL FROM mcp_servers ORDER BY name")
            rows = cur.fetchall()
        return [McpServer.model_validate({**_loaded(row[0]), "has_secret": row[1]}) for row in rows]

    def delete(self, name: str) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM mcp_servers WHERE name = %s RETURNING name", (name,))
            if cur.fetchone() is None:
                raise UnknownMcpServerError(f"No MCP server is registered as {name!r}.")

    def _secret(self, name: str) -> str | None:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT secret FROM mcp_servers WHERE name = %s", (name,))
            row = cur.fetchone()
        return row[0] if row else None


def _loaded(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value


def _client_error() -> type[ClientError]:
    from botocore.exceptions import ClientError

    return ClientError


class DynamoDBMcpRegistry(McpRegistry):
    """Items `MCP_SERVER#<name>` in the history table; secrets in Secrets Manager under
    `<secret_prefix>/<name>` (the stack grants the chat Lambda exactly that prefix)."""

    def __init__(self, table_name: str, secret_prefix: str, *, region: str | None = None):
        import boto3  # here: the chat API's cold start imports no AWS SDK it does not use

        self._table = boto3.resource("dynamodb", region_name=region).Table(table_name)
        self._secrets = boto3.client("secretsmanager", region_name=region)
        self._prefix = secret_prefix.rstrip("/")

    @staticmethod
    def _key(name: str) -> dict[str, str]:
        return {"pk": "MCP_SERVERS", "sk": f"MCP_SERVER#{name}"}

    def _secret_id(self, name: str) -> str:
        return f"{self._prefix}/{name}"

    def put(self, server: McpServer, secret: str | None) -> None:
        if secret is not None:
            try:
                self._secrets.put_secret_value(SecretId=self._secret_id(server.name), SecretString=secret)
            except _client_error() as exc:
                if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
                self._secrets.create_secret(Name=self._secret_id(server.name), SecretString=secret)
        has_secret = secret is not None or self._has_secret(server.name)
        item = {
            **self._key(server.name),
            "server": server.model_copy(update={"has_secret": has_secret}).model_dump_json(),
        }
        self._table.put_item(Item=item)

    def _has_secret(self, name: str) -> bool:
        item = self._table.get_item(Key=self._key(name), ConsistentRead=True).get("Item")
        return bool(item and json.loads(item["server"]).get("has_secret"))

    def list(self) -> list[McpServer]:
        from boto3.dynamodb.conditions import Key

        items = self._table.query(KeyConditionExpression=Key("pk").eq("MCP_SERVERS"), ConsistentRead=True)[
            "Items"
        ]
        return [McpServer.model_validate_json(item["server"]) for item in items]

    def delete(self, name: str) -> None:
        try:
            self._table.delete_item(Key=self._key(name), ConditionExpression="attribute_exists(pk)")
        except _client_error() as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise UnknownMcpServerError(f"No MCP server is registered as {name!r}.") from None
            raise
        try:
            self._secrets.delete_secret(SecretId=self._secret_id(name), ForceDeleteWithoutRecovery=True)
        except _client_error() as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise

    def _secret(self, name: str) -> str | None:
        try:
            return self._secrets.get_secret_value(SecretId=self._secret_id(name))["SecretString"]
        except _client_error() as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
