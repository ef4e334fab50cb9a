"""The boto3 runtime clients (`sagemaker-runtime`, `bedrock-runtime`), set up for long streams and
many lanes, and the endpoint that calls a model through the right one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from chatbot.models.bedrock import BedrockEndpoint
from chatbot.models.cold_start import ColdStartEndpoint
from chatbot.models.deployment import BedrockDeployment
from chatbot.models.endpoints import Endpoint, SageMakerEndpoint
from chatbot.models.spec import ModelSpec


def _runtime_client(service: str, *, endpoint_url: str | None, region: str, max_attempts: int):
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
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=config, **credentials)


def sagemaker_runtime_client(
    *, endpoint_url: str | None = None, region: str = "us-east-1", max_attempts: int = 3
):
    return _runtime_client(
        "sagemaker-runtime", endpoint_url=endpoint_url, region=region, max_attempts=max_attempts
    )


def bedrock_runtime_client(
    *, endpoint_url: str | None = None, region: str = "us-east-1", max_attempts: int = 3
):
    return _runtime_client(
        "bedrock-runtime", endpoint_url=endpoint_url, region=region, max_attempts=max_attempts
    )


@dataclass(frozen=True)
class RuntimeClients:
    """One client per runtime API, shared by every model of that kind."""

    sagemaker: Any
    bedrock: Any
    #: Locally (the model server): scale-to-zero models start cold and take this long to warm up
    #: (chatbot/models/cold_start.py). None in AWS, where SageMaker does it.
    cold_start_s: float | None = None

    def endpoint(self, spec: ModelSpec) -> Endpoint:
        if isinstance(spec.deployment, BedrockDeployment):
            return BedrockEndpoint(spec, self.bedrock)
        endpoint = SageMakerEndpoint(spec, self.sagemaker)
        if spec.deployment.scale_to_zero and self.cold_start_s is not None:
            return ColdStartEndpoint(endpoint, self.cold_start_s)
        return endpoint
