"""Fixtures every test folder shares, and the two tiers: `make test-fast` runs every test not
marked `models` (needs the real local models: the llama.cpp model server, the MiniLM embedder or
the whole local stack) or `browser` (drives Chromium); `make test` runs them all.

Tests are marked here, from what they use, so a new test lands in the right tier by itself: a
test that uses a model fixture (directly or through another fixture) is `models`. The few
modules that start models without a fixture are named in MODELS_MODULES. In the fast tier a
test that still starts the model server fails, saying to mark it (see `_no_models_in_fast_tier`).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg2
import pytest

from chatbot.models.catalog import ModelCatalog, load_catalog
from chatbot.models.clients import RuntimeClients, bedrock_runtime_client, sagemaker_runtime_client
from chatbot.postgres import temporary_server
from tests.servers import ROOT, model_server


@pytest.fixture(scope="session")
def catalog() -> ModelCatalog:
    return load_catalog(ROOT / "models.yaml")


def _memory_folder(least_free_gb: float = 8) -> Path | None:
    """/dev/shm where it has room: the server's files then never wait on the disk, whose speed
    on a shared machine varies from run to run (each test creates a database of about 8 MB).
    None (the system's temporary folder) elsewhere."""
    shm = Path("/dev/shm")
    try:
        stats = os.statvfs(shm)
    except OSError:
        return None
    free_gb = stats.f_bavail * stats.f_frsize / 2**30
    return shm if free_gb >= least_free_gb and os.access(shm, os.W_OK) else None


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """One real embedded PostgreSQL (with pgvector) for the whole run, in a temporary folder.
    Its data is thrown away with the run, so it skips what only makes data survive a crash:
    each test creates a database, and the fsyncs of those copies (and of the shutdown
    checkpoint) were a tenth of the fast tier's wall time. What the tests check (transactions,
    locks, constraints) is the same either way."""
    with temporary_server(_memory_folder()) as url:
        with closing(psycopg2.connect(url)) as conn:
            conn.autocommit = True  # ALTER SYSTEM cannot run inside a transaction
            with conn.cursor() as cur:
                for setting in ("fsync", "full_page_writes", "synchronous_commit"):
                    cur.execute(f"ALTER SYSTEM SET {setting} = off")
                cur.execute("SELECT pg_reload_conf()")
        yield url


@pytest.fixture(scope="session")
def model_server_url() -> Iterator[str]:
    """One real model server (both local models) shared by the whole run."""
    with model_server() as url:
        yield url


@pytest.fixture(scope="session")
def runtime_client(model_server_url: str):
    """boto3's real sagemaker-runtime client, pointed at the local model server. No retries,
    so a test sees each error as the server sent it."""
    return sagemaker_runtime_client(endpoint_url=model_server_url, max_attempts=1)


@pytest.fixture(scope="session")
def runtime_clients(model_server_url: str, runtime_client) -> RuntimeClients:
    """Both runtime clients (SageMaker's and Bedrock's), as the chat API builds them: the local
    model server speaks both APIs."""
    return RuntimeClients(
        sagemaker=runtime_client,
        bedrock=bedrock_runtime_client(endpoint_url=model_server_url, max_attempts=1),
    )


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """bcrypt at its default cost (12 rounds) takes about a quarter of a second per hash, by
    design, and the tests add accounts by the dozen. What they check (a bcrypt hash is stored, a
    password checks against it, a reset replaces it) holds at any cost, so hashes made in the
    test process use bcrypt's lowest; servers and commands the tests start hash as shipped."""
    import bcrypt

    shipped = bcrypt.gensalt
    bcrypt.gensalt = lambda rounds=4, prefix=b"2b": shipped(rounds, prefix)
    yield
    bcrypt.gensalt = shipped


#: Fixtures that run a real model, whatever uses them (pytest resolves fixtures' own fixtures).
MODEL_FIXTURES = frozenset(
    {"model_server_url", "runtime_client", "runtime_clients", "embedder", "stack", "indexer_retrieval"}
)
#: Modules (or single tests, `module::test`) that start a real model themselves, not through a
#: fixture (relative to tests/).
MODELS_MODULES = frozenset(
    {
        "lambdas/chat_api/test_direct_uploads.py::test_a_file_too_large_for_the_api_goes_straight_to_the_bucket_and_is_indexed",
        "lambdas/document_indexer/test_handler.py::test_the_lambda_entry_point_configures_itself_from_the_environment",
        "chatbot/chat/test_service.py",
        "chatbot/retrieval/test_cli.py",
        "chatbot/retrieval/test_service.py",
        "inference/test_batching.py",
        "lambdas/test_boot.py",
        "launcher/test_launcher.py",
        "launcher/test_supervisor.py",
    }
)
TESTS = Path(__file__).parent
#: Set by `make test-fast`: starting the model server is then an error, not a slow test.
FAST_TIER = os.environ.get("CHATBOT_TEST_TIER") == "fast"


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported and collected so far lives as long as the run: frozen, the garbage
    collector stops walking it on every full collection, and with the young generation's
    threshold raised it runs a tenth as often. This took a third of the fast tier's CPU."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1_000)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.relative_to(TESTS).as_posix()
        test = f"{where}::{item.name.split('[')[0]}"
        if where.startswith("browser/"):
            item.add_marker(pytest.mark.browser)
        elif MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())) or {where, test} & MODELS_MODULES:
            item.add_marker(pytest.mark.models)


@pytest.fixture(autouse=FAST_TIER)
def _no_models_in_fast_tier(monkeypatch) -> None:
    """In the fast tier, a test that starts the model server (or the MiniLM embedder) unmarked
    fails at once and says why, instead of making the tier slow."""
    import tests.servers
    from chatbot.retrieval.embedders import LocalEmbedder

    def refused(*args, **kwargs):
        raise AssertionError(
            "This test runs a real model but is not marked `models`: add its fixture to "
            "MODEL_FIXTURES or its module to MODELS_MODULES in tests/conftest.py."
        )

    original = tests.servers.running_server

    def running_server(args, *rest, **kwargs):
        if "inference" in args:
            refused()
        return original(args, *rest, **kwargs)

    monkeypatch.setattr(tests.servers, "running_server", running_server)
    monkeypatch.setattr(LocalEmbedder, "_loaded", refused)
