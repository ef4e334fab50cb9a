"""Booting the chat API function from its artefacts, as the Lambda Web Adapter starts it: shared
by tests/lambdas/test_boot.py and benchmarks/cold_start.py, so that the benchmark times the
start the tests check.

The function's environment is the one the Pulumi program writes (from the mocked dev graph), with
stand-ins for what cannot run here: moto's server for DynamoDB, the local model server (or any
address) for the SageMaker endpoints, local tokens for Cognito.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from chatbot.api.local_tokens import local_secret
from chatbot.chat.dynamodb_store import TABLE_SCHEMA
from chatbot.models import registry
from infra.build import packaging
from infra.checks.offline import OfflineRun
from infra.checks.offline_stack import offline_run
from infra.config import PROJECT_ROOT
from lambdas.chat_api import auth
from tests.infra.support import one, stack_config
from tests.lambdas import lambda_runtime
from tests.servers import free_port, moto_client

FUNCTION = "aws:lambda/function:Function"

#: Dev chats with Bedrock models, which the local model server serves under its own names only;
#: the boot tests deploy dev with its SageMaker option instead (Pulumi.dev.yaml, commented out),
#: a model the local server answers for as the endpoint would.
SMOLLM2_ON_SAGEMAKER = {
    "name": "smollm2-135m",
    "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "endpoint_name": "smollm2-135m",
    "streaming": "native",
    "endpoint_req_config": "tgi",
    "context_window": 2048,
    "max_new_tokens_limit": 1024,
    "default_parameters": {"max_new_tokens": 256, "temperature": 0.7, "top_p": 0.9},
    "deployment": {
        "kind": "cpu-llamacpp",
        "instance_type": "ml.c7i.large",
        "gguf": "smollm2-135m-instruct-q4_1",
    },
}


def dev_with_smollm2(**overrides: object) -> OfflineRun:
    return offline_run("dev", stack_config("dev", models=[SMOLLM2_ON_SAGEMAKER], **overrides))


def layer_and_task(function: str, tmp: Path) -> tuple[Path, Path]:
    """The layer (built for this interpreter) and the function zip unpacked into a task root."""
    layer = packaging.build_layer(PROJECT_ROOT, function, packaging.HOST)
    task_root = lambda_runtime.unpack(packaging.build_function_zip(PROJECT_ROOT, function), tmp / "task")
    return layer, task_root


def deploy_tables(graph_env: dict[str, str], run: OfflineRun, moto_url: str) -> None:
    """The tables the program creates, with the registry items it writes (endpoint names as the
    local model server serves them: without the stack's suffix)."""
    dynamodb = moto_client("dynamodb", moto_url)
    history = graph_env["CHATBOT_HISTORY_TABLE"]
    models = graph_env["CHATBOT_MODELS_TABLE"]
    for name in (history, models):
        if name in dynamodb.list_tables()["TableNames"]:
            dynamodb.delete_table(TableName=name)
    dynamodb.create_table(TableName=history, **TABLE_SCHEMA)
    dynamodb.create_table(
        TableName=models,
        KeySchema=[{"AttributeName": registry.KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": registry.KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    items = run.graph.of_type("aws:dynamodb/tableItem:TableItem")
    assert items, "the program writes the registry"
    for item in items:
        dynamodb.put_item(TableName=models, Item=json.loads(item.inputs["item"].replace("-dev", "")))


def chat_api_settings(
    run: OfflineRun, moto_url: str, model_server_url: str, secret: Path, port: int, **extra: str
) -> dict[str, str]:
    """The function's environment as the program writes it, with the stand-ins; deploys its tables."""
    env = dict(one(run.graph, FUNCTION, "chat-function").inputs["environment"]["variables"])
    deploy_tables(env, run, moto_url)
    for name in (
        "AWS_LAMBDA_EXEC_WRAPPER",
        "AWS_LWA_INVOKE_MODE",
        "COGNITO_USER_POOL_ID",
        "COGNITO_CLIENT_ID",
    ):
        env.pop(name, None)  # we play the Web Adapter; Cognito cannot be reached from here
    return env | {
        "PORT": str(port),
        "CHATBOT_AUTH": "local",
        "CHATBOT_LOCAL_SECRET_FILE": str(secret),
        "SAGEMAKER_ENDPOINT_URL": model_server_url,
        "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
        **extra,
    }


def start_chat_api(
    layer: Path,
    task_root: Path,
    settings: dict[str, str],
    bin_dir: Path,
    log: IO[Any],
    *,
    prefix: Sequence[str] = (),
) -> subprocess.Popen:
    """The Web Adapter's own start: exec the handler script itself, in Lambda's mounts.
    `prefix`: a command to run it under (e.g. `taskset -c 0`)."""
    process_env = lambda_runtime.lambda_environment(
        task_root, packaging.HANDLERS["chat_api"], bin_dir, settings
    )
    command = lambda_runtime.in_lambda_mounts(layer, 'exec "$LAMBDA_TASK_ROOT/$_HANDLER"')
    return subprocess.Popen(
        [*prefix, *command], env=process_env, cwd=task_root, stdout=log, stderr=subprocess.STDOUT
    )


def boot_chat_api(
    run: OfflineRun, tmp: Path, moto_url: str, model_server_url: str, secret: Path, **extra: str
) -> tuple[subprocess.Popen, str, IO[Any]]:
    """Build the artefacts, unpack them, and start the function: (process, its URL, its log)."""
    port = free_port()
    settings = chat_api_settings(run, moto_url, model_server_url, secret, port, **extra)
    layer, task_root = layer_and_task("chat_api", tmp)
    bin_dir = lambda_runtime.bare_python(tmp / "bin")
    log = (tmp / "chat_api.log").open("w+")
    process = start_chat_api(layer, task_root, settings, bin_dir, log)
    return process, f"http://127.0.0.1:{port}", log


def issue_token(user: str, secret: Path) -> str:
    return auth.LocalTokens(local_secret(secret)).issue(user, ttl_s=600)
