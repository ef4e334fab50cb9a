"""Both real local models, through boto3's real sagemaker-runtime client, in all three modes."""

from __future__ import annotations

import time

import pytest

from chatbot.errors import ParameterError
from chatbot.models.catalog import ModelCatalog
from chatbot.models.endpoints import Endpoint, SageMakerEndpoint
from chatbot.models.events import DoneEvent, ErrorEvent, StartEvent, TokenEvent
from chatbot.models.spec import ModelSpec
from tests.model_counters import after_cancel, counters
from tests.sampling import GREEDY, LONG, long_answer_seed, seed_where

MODELS = ["smollm2-135m", "gemma3-270m"]
MODES = ["native", "batched", "none"]


@pytest.fixture
def endpoint(request, catalog: ModelCatalog, runtime_client) -> Endpoint:
    return SageMakerEndpoint(catalog.get(request.param), runtime_client)


def ask(endpoint: Endpoint, message: str, mode: str, **overrides) -> list:
    params = endpoint.spec.resolve_parameters({"max_new_tokens": 24, **overrides})
    fitted = endpoint.fit_prompt([], message, params)
    return list(endpoint.stream(fitted.prompt, params, mode=mode))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("endpoint", MODELS, indirect=True)
def test_each_model_answers_in_each_mode_with_start_tokens_and_done(endpoint: Endpoint, mode: str):
    # Greedy: the model's most likely answer, which is never an empty one to this question.
    events = ask(endpoint, "What is the capital of France?", mode, **GREEDY)
    assert events[0] == StartEvent(model=endpoint.spec.name)
    tokens = [event for event in events if isinstance(event, TokenEvent)]
    done = events[-1]
    assert isinstance(done, DoneEvent), events
    text = "".join(token.text for token in tokens)
    assert text.strip(), "a real model writes something"
    assert not any(word in text for word in endpoint.adapter.stop_words()), text
    assert done.finish_reason in ("eos", "stop_sequence", "length")
    assert 0 < done.usage.completion_tokens <= 24
    assert done.metrics.ttft_ms is not None
    assert done.metrics.ttft_ms > 0
    if mode == "native":
        assert len(tokens) > 1, "native streaming delivers text as it is decoded"
        assert done.usage.prompt_tokens
        assert done.usage.prompt_tokens > 10


@pytest.mark.parametrize("endpoint", ["gemma3-270m"], indirect=True)
def test_greedy_decoding_gives_the_same_answer_in_every_mode(endpoint: Endpoint):
    def text(mode: str) -> str:
        events = ask(endpoint, "Name three colours.", mode, temperature=0)
        return "".join(event.text for event in events if isinstance(event, TokenEvent))

    assert text("native") == text("none")


@pytest.mark.parametrize("endpoint", ["smollm2-135m"], indirect=True)
def test_a_batched_answer_stops_at_max_new_tokens(endpoint: Endpoint):
    def batched(seed: int):
        return ask(endpoint, "Count from one to fifty in words.", "batched", max_new_tokens=20, seed=seed)[-1]

    # Any draw may end early; one that runs to the limit must stop exactly there.
    seed = seed_where(lambda seed: batched(seed).finish_reason == "length", "a batched answer of 20 tokens")
    assert batched(seed).usage.completion_tokens == 20
    for seed in (1, 2, 3):
        done = batched(seed)
        assert done.usage.completion_tokens <= 20
        assert done.finish_reason in ("eos", "stop_sequence", "length")


@pytest.mark.parametrize("mode", ["native", "batched"])
@pytest.mark.parametrize("endpoint", ["gemma3-270m"], indirect=True)
def test_a_base_model_is_stopped_by_its_stop_words_before_it_writes_the_users_turn(
    endpoint: Endpoint, mode: str
):
    events = ask(endpoint, "Hello! Who are you?", mode, max_new_tokens=200, temperature=0)
    text = "".join(event.text for event in events if isinstance(event, TokenEvent))
    assert "User:" not in text
    assert events[-1].finish_reason in ("stop_sequence", "eos", "length")


@pytest.mark.parametrize("endpoint", ["smollm2-135m"], indirect=True)
def test_closing_the_stream_stops_decoding_on_the_server(endpoint: Endpoint, model_server_url: str):
    name = endpoint.spec.endpoint_name
    # A draw proven to run past 120 tokens, so the answer cannot end on its own before the stream
    # is closed (at 5) and the server has seen it (well under 100, even on a busy machine).
    seed = long_answer_seed(endpoint, "Tell me a long story.", tokens=120)
    params = endpoint.spec.resolve_parameters({**LONG, "max_new_tokens": 1000, "seed": seed})
    prompt = endpoint.fit_prompt([], "Tell me a long story.", params).prompt
    before = counters(model_server_url, name)
    events = endpoint.stream(prompt, params)
    received = 0
    for event in events:
        received += isinstance(event, TokenEvent)
        if received == 5:
            events.close()  # what a stop in the UI does
            break
    stopped_at = after_cancel(model_server_url, name, before)  # the server notices the closed connection...
    assert stopped_at["cancelled"] == before["cancelled"] + 1
    time.sleep(1.0)  # ...and generates nothing more
    after = counters(model_server_url, name)
    assert after["tokens_generated"] == stopped_at["tokens_generated"], (
        "decoding went on after the stream closed"
    )
    assert after["tokens_generated"] - before["tokens_generated"] < 100


def test_unknown_endpoints_become_a_clear_error_event(runtime_client, catalog: ModelCatalog):
    spec = catalog.get("smollm2-135m").model_copy(update={"endpoint_name": "not-deployed"})
    events = list(SageMakerEndpoint(spec, runtime_client).stream("hi", spec.default_parameters))
    assert isinstance(events[-1], ErrorEvent)
    assert events[-1].code == "model_error"
    assert "'not-deployed'" in events[-1].message
    assert "does not exist" in events[-1].message


def test_a_prompt_longer_than_the_window_is_refused_by_the_server_with_a_clear_error(runtime_client, catalog):
    endpoint = SageMakerEndpoint(catalog.get("smollm2-135m"), runtime_client)
    params = endpoint.spec.resolve_parameters({"max_new_tokens": 1000})
    # Bypass the adapter's fitting on purpose: the server must still refuse, not crash.
    events = list(endpoint.stream("word " * 1500, params))
    assert events[-1] == ErrorEvent(code="prompt_too_long", message=events[-1].message)
    assert "must be <= 2048" in events[-1].message


def test_parameters_outside_the_backends_bounds_fail_before_any_call(catalog: ModelCatalog):
    bounded = catalog.get("smollm2-135m").endpoint_req_config.model_dump()
    bounded["request"]["bounds"]["temperature"] = {"gt": 0, "le": 1}
    spec = ModelSpec.model_validate(
        {**catalog.get("smollm2-135m").model_dump(), "endpoint_req_config": bounded}
    )
    endpoint = SageMakerEndpoint(spec, client=None)  # no client: any call would crash
    with pytest.raises(ParameterError, match="temperature=1.5"):
        endpoint.stream("hi", spec.resolve_parameters({"temperature": 1.5}))
