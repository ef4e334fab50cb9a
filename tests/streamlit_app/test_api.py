"""ChatApi against the real chat API: typed answers, and failures in words a user can act on."""

from __future__ import annotations

import httpx
import pytest

from chatbot.api.local_tokens import local_secret
from chatbot.api.requests import ChatRequest
from chatbot.models.events import DoneEvent, SessionEvent, TokenEvent
from lambdas.chat_api.auth import LocalTokens
from launcher.processes import free_port
from streamlit_app.api import ApiError, ChatApi


@pytest.fixture
def api(stack):
    token = LocalTokens(local_secret(stack.secret_file)).issue("api-tests")
    with httpx.Client(base_url=stack.api_url, timeout=60) as http:
        yield ChatApi(http, token)


def test_a_chat_streams_typed_events(api):
    request = ChatRequest(
        model="smollm2-135m", message="Hi", parameters={"max_new_tokens": 4, "temperature": 0}
    )
    events = list(api.chat(request))
    assert isinstance(events[0], SessionEvent)
    assert any(isinstance(event, TokenEvent) for event in events)
    assert isinstance(events[-1], DoneEvent)


def test_a_refused_request_raises_with_the_apis_own_message(api):
    with pytest.raises(ApiError) as refused:
        list(api.chat(ChatRequest(model="nope", message="Hi")))
    assert refused.value.status == 404
    assert "Pick one of: gemma3-270m, smollm2-135m, smollm2-135m-bedrock." in str(refused.value)


def test_a_bad_token_is_an_error_that_says_to_sign_in_again(stack):
    with (
        httpx.Client(base_url=stack.api_url) as http,
        pytest.raises(ApiError, match="Sign in again") as refused,
    ):
        ChatApi(http, "not-a-token").models()
    assert refused.value.status == 401


def test_an_api_that_is_not_running_is_named_with_what_to_do():
    with httpx.Client(base_url=f"http://127.0.0.1:{free_port()}") as http, pytest.raises(ApiError) as down:
        ChatApi(http, "token").models()
    assert down.value.code == "api_unreachable"
    assert "Is it running? (`make chat` starts it.)" in str(down.value)


def test_the_token_travels_in_x_id_token_behind_aws_iam(stack):
    token = LocalTokens(local_secret(stack.secret_file)).issue("api-tests")
    with httpx.Client(base_url=stack.api_url) as http:
        names = [model.name for model in ChatApi(http, token, token_header="x-id-token").models()]
    assert names == ["smollm2-135m", "gemma3-270m", "smollm2-135m-bedrock"]
