"""The Lambda functions boot from their artefacts, as Lambda runs them (tests/lambdas/lambda_runtime.py):
the function zip unpacked with its modes, the layer at /opt/python, nothing of .venv on the path,
and the environment the Pulumi program writes (from the mocked dev graph).

Stand-ins, each for what cannot run here: moto's server for DynamoDB and S3, the local model
server for the SageMaker endpoints (SAGEMAKER_ENDPOINT_URL), the embedded Postgres for RDS
(DATABASE_URL instead of the RDS secret: tests/infra/test_iam.py and tests/chatbot/test_postgres_rotation.py
cover that path), local tokens for Cognito."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatbot.postgres import create_database
from chatbot.retrieval.service import Retrieval
from infra.build import packaging
from infra.checks.offline_stack import offline_run
from infra.config import PROJECT_ROOT
from tests.chatbot.retrieval.endpoint_server import endpoint_server
from tests.chatbot.retrieval.support import shared_embedder
from tests.infra.support import one
from tests.lambdas import lambda_runtime
from tests.lambdas.chat_api_boot import FUNCTION, boot_chat_api, dev_with_smollm2, issue_token, layer_and_task
from tests.sampling import GREEDY
from tests.servers import moto_client, moto_server

pytestmark = pytest.mark.skipif(bool(lambda_runtime.can_mount()), reason=str(lambda_runtime.can_mount()))


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def local_secret(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("auth") / "local-auth-secret"


def wait_healthy(url: str, process: subprocess.Popen, log) -> dict[str, Any]:
    for _ in range(600):
        if process.poll() is not None:
            log.seek(0)
            pytest.fail(f"the function exited with {process.returncode}:\n{log.read()[-4000:]}")
        try:
            return httpx.get(f"{url}/health", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.1)
    log.seek(0)
    pytest.fail(f"the function did not answer /health:\n{log.read()[-4000:]}")


def chat_once(url: str, secret: Path) -> list[dict[str, Any]]:
    token = issue_token("boot-test", secret)
    # Greedy: a short answer that is never empty, on any build (tests/sampling.py).
    body = {"model": "smollm2-135m", "message": "Say hello.", "parameters": {"max_new_tokens": 8, **GREEDY}}
    with httpx.stream(
        "POST", f"{url}/chat", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as response:
        assert response.status_code == 200, response.read()
        return [json.loads(line) for line in response.iter_lines() if line]


@pytest.fixture
def stopped() -> Iterator[list[subprocess.Popen]]:
    processes: list[subprocess.Popen] = []
    yield processes
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_chat_api_boots_without_semantic_search_and_answers(
    tmp_path, moto_url, model_server_url, local_secret, stopped
):
    run = dev_with_smollm2(semantic_search={"enabled": False})
    process, url, log = boot_chat_api(run, tmp_path, moto_url, model_server_url, local_secret)
    stopped.append(process)
    assert wait_healthy(url, process, log)["models"] == 1
    events = chat_once(url, local_secret)
    assert events[0]["type"] == "session", events
    assert events[-1]["type"] == "done", events
    assert "".join(e.get("text", "") for e in events if e["type"] == "token")
    # The turn is in DynamoDB (moto), as the history store wrote it.
    session = events[0]["session_id"]
    items = moto_client("dynamodb", moto_url).scan(TableName="chat-history")["Items"]
    assert any(item["sk"]["S"] == f"SESSION#{session}" for item in items)
    # Documents are off on this stack: a clear 503, not a crash at start-up.
    token = issue_token("boot-test", local_secret)
    assert httpx.get(f"{url}/documents", headers={"Authorization": f"Bearer {token}"}).status_code == 503


def test_the_chat_api_boots_with_semantic_search(
    tmp_path, moto_url, model_server_url, local_secret, postgres_server_url, stopped
):
    run = dev_with_smollm2()
    database = create_database(postgres_server_url, "boot_chat_api")
    drop = {"DB_HOST": "", "DB_PORT": "", "DB_NAME": "", "DB_SECRET_ARN": ""}
    process, url, log = boot_chat_api(
        run, tmp_path, moto_url, model_server_url, local_secret, DATABASE_URL=database, **drop
    )
    stopped.append(process)
    assert wait_healthy(url, process, log)["models"] == 2  # the chat model and the embeddings model
    events = chat_once(url, local_secret)
    assert events[-1]["type"] == "done", events
    token = issue_token("boot-test", local_secret)
    assert httpx.get(f"{url}/documents", headers={"Authorization": f"Bearer {token}"}).json() == []


BOOTSTRAP = """
import importlib, json, os, sys
# What the python3.12 runtime's bootstrap does before it imports the handler.
sys.path[:0] = [os.environ["LAMBDA_TASK_ROOT"], "/opt/python", os.environ["LAMBDA_RUNTIME_DIR"]]
module, _, function = os.environ["_HANDLER"].rpartition(".")
handler = getattr(importlib.import_module(module), function)
print(json.dumps(handler(json.load(sys.stdin), None)))
"""


def test_the_indexer_indexes_an_s3_event_from_sqs_into_postgres(tmp_path, moto_url, postgres_server_url):
    run = offline_run("dev")
    env = dict(one(run.graph, FUNCTION, "retrieval-indexer").inputs["environment"]["variables"])
    bucket = env["DOCUMENTS_BUCKET"]
    moto_client("s3", moto_url).create_bucket(Bucket=bucket)
    key = "private/ana/notes/trip.txt"
    moto_client("s3", moto_url).put_object(
        Bucket=bucket, Key=key, Body=b"The train to Lisbon leaves at nine."
    )
    notification = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 35}},
            }
        ]
    }
    event = {"Records": [{"messageId": "m-1", "eventSource": "aws:sqs", "body": json.dumps(notification)}]}
    database = create_database(postgres_server_url, "boot_indexer")
    spec = json.loads(env["EMBEDDING_MODEL_SPEC"])
    spec["endpoint_name"] = "minilm-embed"  # as the MiniLM stand-in serves it
    for name in ("DB_HOST", "DB_PORT", "DB_NAME", "DB_SECRET_ARN"):
        env.pop(name)
    layer, task_root = layer_and_task("document_indexer", tmp_path)
    bin_dir = lambda_runtime.bare_python(tmp_path / "bin")
    with endpoint_server(shared_embedder()) as embeddings_url:
        env |= {
            "DATABASE_URL": database,
            "EMBEDDING_MODEL_SPEC": json.dumps(spec),
            "SAGEMAKER_ENDPOINT_URL": embeddings_url,
            "AWS_ENDPOINT_URL_S3": moto_url,
        }
        process_env = lambda_runtime.lambda_environment(
            task_root, packaging.HANDLERS["document_indexer"], bin_dir, env
        )
        result = subprocess.run(
            lambda_runtime.in_lambda_mounts(layer, 'exec python -c "$BOOTSTRAP"'),
            env={**process_env, "BOOTSTRAP": BOOTSTRAP},
            cwd=task_root,
            input=json.dumps(event),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-4000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"batchItemFailures": []}
    retrieval = Retrieval.open(database, embedder=shared_embedder())
    try:
        [document] = retrieval.store.list_documents("ana", ["private"])
        assert (document.name, document.source) == ("trip.txt", "notes/trip.txt")
    finally:
        retrieval.close()


def test_nothing_of_the_virtualenv_is_on_the_booted_path(tmp_path):
    layer, task_root = layer_and_task("document_indexer", tmp_path)
    bin_dir = lambda_runtime.bare_python(tmp_path / "bin")
    env = lambda_runtime.lambda_environment(task_root, packaging.HANDLERS["document_indexer"], bin_dir, {})
    probe = 'python -c "import sys, json; sys.path[:0] = [\\"/opt/python\\"]; print(json.dumps(sys.path))"'
    result = subprocess.run(
        lambda_runtime.in_lambda_mounts(layer, probe), env=env, capture_output=True, text=True, check=True
    )
    path = json.loads(result.stdout)
    assert not any(".venv" in entry or "site-packages" in entry for entry in path), path
    assert os.path.realpath(PROJECT_ROOT / ".venv") not in " ".join(path)
