"""A function's own database role (defect 13): rows, never the schema, on a real PostgreSQL."""

from __future__ import annotations

import psycopg2
import pytest
from psycopg2.extensions import make_dsn

from chatbot.postgres import create_database, grant_function_role


def role_url(master_url: str, role: str, password: str) -> str:
    return make_dsn(master_url, user=role, password=password)


def connect_as(url: str):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="module")
def master_url(postgres_server_url: str) -> str:
    url = create_database(postgres_server_url, "function_role_tests")
    with connect_as(url) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text NOT NULL)")
    return url


@pytest.fixture(scope="module")
def role(master_url: str) -> str:
    conn = psycopg2.connect(master_url)
    grant_function_role(conn, "test_function_role", "first-password")
    conn.close()
    return role_url(master_url, "test_function_role", "first-password")


def test_the_role_reads_and_writes_rows(role: str):
    conn = connect_as(role)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO notes (body) VALUES ('a') RETURNING id")  # the sequence too
        (note,) = cur.fetchone()
        cur.execute("UPDATE notes SET body = 'b' WHERE id = %s", (note,))
        cur.execute("SELECT body FROM notes WHERE id = %s", (note,))
        assert cur.fetchone() == ("b",)
        cur.execute("DELETE FROM notes WHERE id = %s", (note,))
        assert cur.rowcount == 1
    conn.close()


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (x int)",
        "DROP TABLE notes",
        "ALTER TABLE notes ADD COLUMN extra text",
        "TRUNCATE notes",
        "CREATE INDEX notes_body ON notes (body)",
        "CREATE ROLE another LOGIN",
        "CREATE SCHEMA intruder",
        "ALTER ROLE test_function_role CREATEROLE",
    ],
)
def test_the_role_cannot_change_the_schema_or_hand_out_rights(role: str, statement: str):
    conn = connect_as(role)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
        cur.execute(statement)
    conn.close()


def test_a_table_a_later_migration_makes_comes_with_the_same_rights(master_url: str, role: str):
    with connect_as(master_url) as admin, admin.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS later (id bigserial PRIMARY KEY, n int)")
    conn = connect_as(role)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO later (n) VALUES (1)")
        cur.execute("SELECT count(*) FROM later")
        assert cur.fetchone()[0] >= 1
    conn.close()


def stored_password(master_url: str, role: str) -> str:
    with connect_as(master_url) as admin, admin.cursor() as cur:
        cur.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,))
        return cur.fetchone()[0]


def test_granting_again_sets_the_new_password_and_keeps_the_rights(master_url: str, role: str):
    # (The embedded server trusts its Unix socket, so the password is read back, not tried:
    # tests/chatbot/test_postgres_rotation.py signs in with one.)
    before = stored_password(master_url, "test_function_role")
    conn = psycopg2.connect(master_url)
    grant_function_role(conn, "test_function_role", "second-password")
    conn.close()
    assert stored_password(master_url, "test_function_role") not in (None, before)
    test_the_role_reads_and_writes_rows(role)


def test_a_role_name_is_never_spliced_into_sql(master_url: str):
    conn = psycopg2.connect(master_url)
    with pytest.raises(ValueError, match="role name"):
        grant_function_role(conn, "x; DROP TABLE notes", "pw")
    conn.close()
