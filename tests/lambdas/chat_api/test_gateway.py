"""The OpenAI-compatible gateway, driven by the official `openai` package against the real chat API
(uvicorn, the local model server, Postgres), with API keys a signed-in user made."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.model_counters import after_cancel, counters
from tests.sampling import seed_where

#: Greedy: short answers that are never empty, on any build (see tests/sampling.py).
SHORT = {"max_tokens": 12, "temperature": 0}
#: Every chat model of models.yaml, whatever its kind (smollm2-135m-bedrock is called through Bedrock's API).
MODELS = {"smollm2-135m", "gemma3-270m", "smollm2-135m-bedrock"}


def conversation(*texts: str) -> list[dict]:
    """User and assistant messages in turn, starting with the user."""
    return [{"role": ("user", "assistant")[index % 2], "content": text} for index, text in enumerate(texts)]


def new_key(client: httpx.Client, name: str = "laptop") -> str:
    response = client.post("/api-keys", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["key"]


@pytest.fixture
def key(alice: httpx.Client) -> Iterator[str]:
    """A fresh key of alice's, revoked after the test (a user may hold only so many at once)."""
    response = alice.post("/api-keys", json={"name": "laptop"})
    assert response.status_code == 201, response.text
    yield response.json()["key"]
    assert alice.delete(f"/api-keys/{response.json()['info']['id']}").status_code == 200


@pytest.fixture
def gpt(api_url: str, key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{api_url}/v1", api_key=key, max_retries=0, timeout=60) as client:
        yield client


def test_a_key_is_shown_once_and_listed_by_its_prefix_only(alice: httpx.Client, bob: httpx.Client):
    key = new_key(alice, "ci")
    listed = [info for info in alice.get("/api-keys").json() if info["name"] == "ci"]
    assert len(listed) == 1
    assert listed[0]["prefix"] == key[:15]
    assert listed[0]["active"] is True
    assert key not in json.dumps(alice.get("/api-keys").json())
    assert all(info["name"] != "ci" for info in bob.get("/api-keys").json()), "keys are per user"


def test_the_openai_client_lists_every_catalog_chat_model(gpt: openai.OpenAI):
    assert {model.id for model in gpt.models.list()} == MODELS
    assert gpt.models.retrieve("gemma3-270m").id == "gemma3-270m"


@pytest.mark.parametrize("model", sorted(MODELS))
def test_the_openai_client_gets_a_whole_answer_with_usage(gpt: openai.OpenAI, model: str):
    completion = gpt.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "You answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        **SHORT,
    )
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert completion.model == model
    usage = completion.usage
    assert 0 < usage.completion_tokens <= 12
    assert usage.prompt_tokens > 10
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_the_openai_client_streams_chunks_and_a_usage_chunk_last(gpt: openai.OpenAI):
    stream = gpt.chat.completions.create(
        model="gemma3-270m",
        messages=conversation("Hello!", "Hi, how can I help?", "Name a colour."),
        stream=True,
        stream_options={"include_usage": True},
        **SHORT,
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({chunk.id for chunk in chunks}) == 1
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.strip()
    finished = [
        chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason
    ]
    assert finished in (["stop"], ["length"])
    assert chunks[-1].choices == []
    assert 0 < chunks[-1].usage.completion_tokens <= 12
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_a_greedy_answer_streams_what_it_answers_whole(gpt: openai.OpenAI):
    request = {
        "model": "smollm2-135m",
        "messages": [{"role": "user", "content": "Name three fruits."}],
        "max_tokens": 12,
        "temperature": 0,
    }
    whole = gpt.chat.completions.create(**request).choices[0].message.content
    streamed = "".join(
        chunk.choices[0].delta.content or "" for chunk in gpt.chat.completions.create(**request, stream=True)
    )
    assert streamed == whole


def test_a_stop_sequence_ends_the_answer_before_it(gpt: openai.OpenAI):
    completion = gpt.chat.completions.create(
        model="smollm2-135m",
        messages=[{"role": "user", "content": "List the days of the week."}],  # greedy: Monday to Sunday
        max_tokens=60,
        temperature=0,
        stop=["Wednesday"],
    )
    assert "Tuesday" in completion.choices[0].message.content
    assert "Wednesday" not in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"


def test_the_raw_stream_is_server_sent_events_ending_with_done(api_url: str, key: str):
    body = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}], "stream": True, **SHORT}
    with httpx.stream(
        "POST", f"{api_url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = list(response.iter_lines())
    events = [line for line in lines if line]
    assert all(line.startswith("data: ") for line in events)
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[0].removeprefix("data: "))["object"] == "chat.completion.chunk"


def test_a_wrong_key_is_a_401_in_openais_shape(api_url: str):
    client = openai.OpenAI(base_url=f"{api_url}/v1", api_key="sk-chatbot-wrong", max_retries=0)
    with client, pytest.raises(openai.AuthenticationError) as error:
        client.chat.completions.create(model="smollm2-135m", messages=[{"role": "user", "content": "Hi"}])
    assert error.value.status_code == 401
    assert error.value.body["type"] == "invalid_request_error"
    assert error.value.body["code"] == "invalid_api_key"
    assert "Incorrect API key provided" in error.value.body["message"]


def test_an_unknown_model_is_a_404_in_openais_shape(gpt: openai.OpenAI):
    with pytest.raises(openai.NotFoundError) as error:
        gpt.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "Hi"}])
    assert error.value.status_code == 404
    assert error.value.body["code"] == "model_not_found"
    assert "gemma3-270m" in error.value.body["message"], "it names the models there are"


@pytest.mark.parametrize(
    ("request_fields", "param"),
    [
        ({"temperature": 5}, "temperature"),
        ({"seed": 2**32}, "seed"),
        ({"n": 2}, "n"),
        ({"messages": [{"role": "assistant", "content": "Hi"}]}, None),
        (
            # An image that is not a data URL (issue 23: images travel inside the body).
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
            None,
        ),
        ({"max_tokens": 5000}, None),
    ],
)
def test_bad_requests_are_400s_that_say_what_to_change(gpt: openai.OpenAI, request_fields: dict, param):
    request = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}], **request_fields}
    with pytest.raises(openai.BadRequestError) as error:
        gpt.chat.completions.create(**request)
    assert error.value.status_code == 400
    assert error.value.body["type"] == "invalid_request_error"
    assert error.value.body["message"]
    if param:
        assert (error.value.body["param"] or "").startswith(param)


@pytest.mark.parametrize(
    ("content", "code"),
    [("Hi\x00there", "nul_character"), ("x" * 1_100_000, "body_too_large")],
    ids=["a NUL character", "a body over the limit"],
)
def test_what_is_refused_before_any_route_is_refused_in_openais_shape(
    gpt: openai.OpenAI, content: str, code: str
):
    with pytest.raises(openai.BadRequestError) as error:
        gpt.chat.completions.create(model="smollm2-135m", messages=[{"role": "user", "content": content}])
    assert error.value.status_code == 400
    assert error.value.body["type"] == "invalid_request_error"
    assert error.value.body["code"] == code
    assert error.value.body["message"]


def test_a_revoked_key_stops_working_and_only_its_owner_can_revoke_it(
    api_url: str, alice: httpx.Client, bob: httpx.Client
):
    key = new_key(alice, "soon revoked")
    key_id = next(info["id"] for info in alice.get("/api-keys").json() if info["name"] == "soon revoked")
    assert bob.delete(f"/api-keys/{key_id}").status_code == 404
    with openai.OpenAI(base_url=f"{api_url}/v1", api_key=key, max_retries=0) as client:
        assert client.models.list().data
        assert alice.delete(f"/api-keys/{key_id}").json()["active"] is False
        with pytest.raises(openai.AuthenticationError):
            client.models.list()


def test_a_key_cannot_manage_keys(api_url: str, key: str):
    response = httpx.post(
        f"{api_url}/api-keys", json={"name": "more"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 401
    assert "An API key cannot manage API keys" in response.json()["error"]["message"]


def test_a_sign_in_token_works_on_the_gateway_too(api_url: str, alice: httpx.Client):
    token = alice.headers["Authorization"].removeprefix("Bearer ")
    with openai.OpenAI(base_url=f"{api_url}/v1", api_key=token, max_retries=0) as client:
        assert {model.id for model in client.models.list()} == MODELS


def test_calls_are_saved_only_when_asked_and_counted_on_the_key(gpt: openai.OpenAI, alice: httpx.Client):
    def session_titles() -> list[str]:
        return [
            session["title"] for session in alice.get("/sessions", params={"limit": 100}).json()["sessions"]
        ]

    before = session_titles()
    gpt.chat.completions.create(
        model="smollm2-135m", messages=[{"role": "user", "content": "Not saved."}], **SHORT
    )
    assert session_titles() == before
    completion = gpt.chat.completions.create(
        model="smollm2-135m",
        messages=conversation("Remember me.", "I will.", "Saved, please."),
        store=True,
        **SHORT,
    )
    sessions = alice.get("/sessions").json()["sessions"]
    assert sessions[0]["title"] == "Saved, please."
    messages = alice.get(f"/sessions/{sessions[0]['id']}").json()["messages"]
    assert [(m["role"], m["content"]) for m in messages[:3]] == [
        ("user", "Remember me."),
        ("assistant", "I will."),
        ("user", "Saved, please."),
    ]
    assert messages[3]["content"] == completion.choices[0].message.content
    (info,) = [info for info in alice.get("/api-keys").json() if info["prefix"] == gpt.api_key[:15]]
    assert info["requests"] == 2
    assert info["completion_tokens"] >= completion.usage.completion_tokens
    assert info["last_used_at"]


def test_closing_the_stream_stops_decoding(api_url: str, key: str, model_server_url: str, gpt: openai.OpenAI):
    story = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Tell a long story."}]}
    # A draw proven to run past 40 tokens, so the stream cannot end before it is closed.
    seed = seed_where(
        lambda seed: (
            gpt.chat.completions.create(**story, max_tokens=40, temperature=1.0, seed=seed)
            .choices[0]
            .finish_reason
            == "length"
        ),
        "a gateway answer of 40+ tokens",
    )
    before = counters(model_server_url, "smollm2-135m")
    body = {**story, "stream": True, "max_tokens": 600, "temperature": 1.0, "seed": seed}
    with httpx.stream(
        "POST", f"{api_url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        for _ in zip(range(4), response.iter_lines(), strict=False):
            pass
    after = after_cancel(model_server_url, "smollm2-135m", before)
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["tokens_generated"] - before["tokens_generated"] < 100


def test_a_caller_who_stops_waiting_for_a_whole_answer_stops_decoding(
    api_url: str, key: str, model_server_url: str, gpt: openai.OpenAI
):
    story = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Tell a long story."}]}
    # A draw proven to run to 300 tokens, so the answer cannot end before the caller leaves.
    seed = seed_where(
        lambda seed: (
            gpt.chat.completions.create(**story, max_tokens=300, temperature=1.0, seed=seed)
            .choices[0]
            .finish_reason
            == "length"
        ),
        "a gateway answer of 300+ tokens",
    )
    before = counters(model_server_url, "smollm2-135m")
    body = json.dumps({**story, "max_tokens": 300, "temperature": 1.0, "seed": seed}).encode()
    url = httpx.URL(api_url)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {url.host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((url.host, url.port), timeout=30) as connection:
        connection.sendall(head.encode() + body)
        # Leave once the model is decoding this answer (no clock: its counter says so).
        decoding = decoded_since(model_server_url, before, at_least=5)
    assert decoding, "the model never started on the answer"
    after = after_cancel(model_server_url, "smollm2-135m", before)
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["tokens_generated"] - before["tokens_generated"] < 300


def decoded_since(model_server_url: str, before: dict[str, int], *, at_least: int) -> bool:
    """Whether SmolLM2 decodes `at_least` more tokens than `before` within 30 s."""
    for _ in range(300):
        if (
            counters(model_server_url, "smollm2-135m")["tokens_generated"]
            >= before["tokens_generated"] + at_least
        ):
            return True
        threading.Event().wait(0.1)
    return False
