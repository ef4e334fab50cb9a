"""Images through /v1 (issue 23): OpenAI `image_url` content parts holding data URLs, for models
whose catalog entry says `images: true`, sent to Bedrock as Converse image blocks (botocore's
Stubber checks the wire format); refused in OpenAI's shape otherwise. In-process with the real
app, auth and Postgres store."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from fastapi.testclient import TestClient

from chatbot.api.local_tokens import local_secret
from chatbot.chat.service import ChatService
from chatbot.models.bedrock import BedrockEndpoint
from chatbot.models.catalog import ModelCatalog
from chatbot.postgres import create_database
from lambdas.chat_api.app import create_app
from lambdas.chat_api.auth import LocalTokens
from tests.scripted_endpoint import Scripts

SMOL, SEEING = "smollm2-135m", "smollm2-135m-bedrock"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
ANSWER = {
    "output": {"message": {"role": "assistant", "content": [{"text": "A cat."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 20, "outputTokens": 3, "totalTokens": 23},
    "metrics": {"latencyMs": 10},
}
_databases = iter(range(1_000_000))


@pytest.fixture
def bedrock() -> Iterator[tuple[Stubber, list[dict]]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    sent: list[dict] = []
    client.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse", lambda params, **_: sent.append(params)
    )
    with Stubber(client) as stubber:
        yield stubber, sent


@pytest.fixture
def client(
    monkeypatch, tmp_path: Path, postgres_server_url: str, catalog: ModelCatalog, bedrock
) -> Iterator[TestClient]:
    """The real app; smollm2-135m-bedrock takes images here (answered by the stubbed Bedrock)."""
    database = create_database(postgres_server_url, f"gateway_images_{next(_databases)}")
    for name, value in {
        "CHATBOT_MODELS_FILE": "models.yaml",
        "DATABASE_URL": database,
        "CHATBOT_DATA_DIR": str(tmp_path / "data"),
        "CHATBOT_LOCAL_SECRET_FILE": str(tmp_path / "secret"),
        "CHATBOT_USERS_FILE": str(tmp_path / "users.yaml"),
        "CHATBOT_DOCUMENTS": "off",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SAGEMAKER_ENDPOINT_URL", raising=False)
    stubber, _ = bedrock
    seeing = ModelCatalog(
        [
            spec.model_copy(update={"images": True, "streaming": "none"}) if spec.name == SEEING else spec
            for spec in catalog
        ]
    )
    scripts = Scripts({SMOL: ["Hi"]})

    def endpoints(spec):
        return BedrockEndpoint(spec, stubber.client) if spec.name == SEEING else scripts(spec)

    app = create_app()
    with TestClient(app) as client:
        app.state.service = ChatService(seeing, endpoints, app.state.service.store)
        client.headers["Authorization"] = (
            f"Bearer {LocalTokens(local_secret(tmp_path / 'secret')).issue('alice')}"
        )
        yield client


def ask(model: str, url: str = DATA_URL) -> dict:
    content = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}]
    return {"model": model, "messages": [{"role": "user", "content": content}]}


def test_an_image_reaches_a_model_that_takes_images_as_a_converse_image_block(client: TestClient, bedrock):
    stubber, sent = bedrock
    stubber.add_response("converse", ANSWER)
    response = client.post("/v1/chat/completions", json=ask(SEEING))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "A cat."
    [params] = sent
    assert params["messages"][-1]["content"] == [
        {"image": {"format": "png", "source": {"bytes": PNG}}},
        {"text": "What is this?"},
    ]


def test_an_image_for_a_model_that_takes_none_is_refused_before_any_call(client: TestClient, bedrock):
    response = client.post("/v1/chat/completions", json=ask(SMOL))
    assert response.status_code == 400
    assert "does not take images" in response.json()["error"]["message"]


def test_an_image_that_is_a_link_is_refused_saying_images_travel_inside_the_body(client: TestClient):
    response = client.post("/v1/chat/completions", json=ask(SEEING, "https://example.com/cat.png"))
    assert response.status_code == 400
    assert "data URL" in response.json()["error"]["message"]


def test_a_body_over_the_edge_functions_1_mb_is_refused_saying_so(client: TestClient):
    big = "data:image/png;base64," + base64.b64encode(PNG + b"\x00" * 800_000).decode()  # ~1.07 MB
    response = client.post("/v1/chat/completions", json=ask(SEEING, big))
    assert response.status_code == 400  # OpenAI's status for every bad request
    error = response.json()["error"]
    assert error["code"] == "body_too_large"
    assert "1 MB" in error["message"]
    assert "edge function" in error["message"]
