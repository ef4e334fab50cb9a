"""`Endpoint` is the interface every model is called through, whatever serves it; the chat
service takes any implementation."""

from __future__ import annotations

import inspect
import typing

import pytest

from chatbot.chat.service import ChatService
from chatbot.chat.turns import TurnRunner
from chatbot.models.bedrock import BedrockEndpoint
from chatbot.models.catalog import ModelCatalog
from chatbot.models.clients import RuntimeClients, bedrock_runtime_client, sagemaker_runtime_client
from chatbot.models.endpoints import Endpoint, SageMakerEndpoint
from tests.scripted_endpoint import ScriptedEndpoint


@pytest.mark.parametrize("implementation", [SageMakerEndpoint, BedrockEndpoint, ScriptedEndpoint])
def test_every_implementation_is_a_complete_endpoint(implementation: type):
    assert issubclass(implementation, Endpoint)
    assert not inspect.isabstract(implementation)


def test_the_interface_cannot_be_called_itself(catalog: ModelCatalog):
    with pytest.raises(TypeError):
        Endpoint(catalog.get("smollm2-135m"), None)  # type: ignore[abstract]  # the point of the test


@pytest.mark.parametrize(
    ("model", "implementation"),
    [("smollm2-135m", SageMakerEndpoint), ("smollm2-135m-bedrock", BedrockEndpoint)],
)
def test_each_model_is_called_through_the_endpoint_of_its_kind(
    catalog: ModelCatalog, model: str, implementation: type
):
    clients = RuntimeClients(
        sagemaker=sagemaker_runtime_client(endpoint_url="http://127.0.0.1:9"),
        bedrock=bedrock_runtime_client(endpoint_url="http://127.0.0.1:9"),
    )
    assert type(clients.endpoint(catalog.get(model))) is implementation


@pytest.mark.parametrize("function", [ChatService.__init__, TurnRunner.__init__])
def test_the_chat_service_takes_any_endpoint(function):
    factory = typing.get_type_hints(function)["endpoint_factory"]
    assert typing.get_args(factory)[1] is Endpoint
