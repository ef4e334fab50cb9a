"""The boto3 `sagemaker-runtime` client, set up for long streams and many lanes."""

from __future__ import annotations

import boto3
from botocore.config import Config


def sagemaker_runtime_client(
    *, endpoint_url: str | None = None, region: str = "us-east-1", max_attempts: int = 3
):
    """A real boto3 client. With `endpoint_url` (the local model server), it signs with
    placeholder credentials: the local server does not check signatures, and a laptop
    may have no AWS credentials at all."""
    config = Config(
        read_timeout=300,  # a long answer streams for minutes
        connect_timeout=5,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        max_pool_connections=32,  # compare sessions stream several lanes at once
        tcp_keepalive=True,
    )
    credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"} if endpoint_url else {}
    return boto3.client(
        "sagemaker-runtime", region_name=region, endpoint_url=endpoint_url, config=config, **credentials
    )
