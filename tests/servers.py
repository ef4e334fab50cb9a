"""The project's own servers for tests: on 127.0.0.1, on a free port, stopped at the end."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lambdas.chat_api.settings import ChatApiSettings
from launcher import stack
from launcher.processes import ROOT, free_port
from launcher.processes import running_server as _running_server

__all__ = [
    "ROOT",
    "chat_api_server",
    "free_port",
    "model_server",
    "model_server_process",
    "moto_client",
    "moto_server",
    "running_server",
]


@contextmanager
def running_server(
    args: list[str], health_url: str, *, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    with tempfile.TemporaryFile() as log, _running_server(args, health_url, log=log, env=env) as process:
        yield process


@contextmanager
def model_server_process(*extra_args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """The real model server (both local models unless told otherwise): its URL and process."""
    server = stack.model_server("127.0.0.1", free_port(), *extra_args)
    with running_server(server.args, server.health_url) as process:
        yield server.url, process


@contextmanager
def model_server(*extra_args: str) -> Iterator[str]:
    with model_server_process(*extra_args) as (url, _):
        yield url


@contextmanager
def chat_api_server(env: dict[str, str]) -> Iterator[str]:
    """The real chat API (`python -m lambdas.chat_api`), configured by `env`; yields its URL."""
    server = stack.chat_api("127.0.0.1", free_port(), ChatApiSettings())
    with running_server(server.args, server.health_url, env={**server.env, **env}):
        yield server.url


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's AWS services (S3, DynamoDB, SQS...) over HTTP on a free port: for code that calls
    AWS from another process, or with a client other than boto3 (a presigned POST)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def moto_client(service: str, moto_url: str) -> Any:
    """A real boto3 client of `service` on the moto server at `moto_url` (test credentials)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
