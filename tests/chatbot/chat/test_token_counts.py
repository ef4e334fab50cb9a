"""Token counts are tokens: an answer reports what the model server counted generating it
(its /metrics `tokens_generated`), in every streaming mode, whether it completed or was stopped."""

from __future__ import annotations

import time

import httpx
import pytest

from chatbot.api.requests import ChatRequest
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.chat.service import ChatService, ServiceLimits
from chatbot.models.catalog import ModelCatalog
from chatbot.models.endpoints import Endpoint, SageMakerEndpoint
from chatbot.models.events import DoneEvent, Event, StartEvent, TokenEvent
from tests.sampling import GREEDY, LONG, seed_where

MODEL = "smollm2-135m"
MODES = ["native", "batched", "none"]
STORY = "Tell me a long story."


def service_in(mode: str, catalog: ModelCatalog, runtime_client, store: PostgresHistoryStore) -> ChatService:
    specs = [spec.model_copy(update={"streaming": mode}) for spec in catalog]
    return ChatService(
        ModelCatalog(specs),
        lambda spec: SageMakerEndpoint(spec, runtime_client),
        store,
        limits=ServiceLimits(stop_poll_s=0.05),
    )


def long_draw(endpoint: Endpoint, mode: str) -> dict:
    """Parameters whose draw in this mode runs past 40 tokens, so a stop lands mid-answer."""

    def runs_long(seed: int) -> bool:
        params = endpoint.spec.resolve_parameters({**LONG, "max_new_tokens": 40, "seed": seed})
        prompt = endpoint.fit_prompt([], STORY, params).prompt
        done = list(endpoint.stream(prompt, params, mode=mode))[-1]  # type: ignore[arg-type]
        return isinstance(done, DoneEvent) and done.finish_reason == "length"

    seed = seed_where(runs_long, f"a 40+ token story in {mode} mode", key=("token-counts", mode))
    return {**LONG, "seed": seed}


def server_counters(url: str) -> dict[str, int]:
    return httpx.get(f"{url}/metrics").json()[MODEL]


def generated_since(url: str, before: dict[str, int]) -> int:
    """Tokens the server generated since `before`, once it has stopped decoding."""
    deadline = time.monotonic() + 30
    while server_counters(url)["running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    return server_counters(url)["tokens_generated"] - before["tokens_generated"]


@pytest.mark.parametrize("mode", MODES)
def test_a_complete_answer_reports_the_tokens_the_server_generated(
    mode, catalog, runtime_client, postgres_store, model_server_url
):
    service = service_in(mode, catalog, runtime_client, postgres_store)
    before = server_counters(model_server_url)
    request = ChatRequest(
        model=MODEL, message="Name three colours.", parameters={"max_new_tokens": 24, **GREEDY}
    )
    events = list(service.chat("alice", request))
    answer = service.get_conversation("alice", events[0].session_id).messages[-1]
    assert answer.status == "complete"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == generated_since(model_server_url, before)
    assert answer.metrics is not None
    assert answer.metrics.tokens_per_s is not None


@pytest.mark.parametrize("mode", MODES)
def test_a_stopped_answer_reports_only_tokens_the_server_generated(
    mode, catalog, runtime_client, postgres_store, model_server_url
):
    service = service_in(mode, catalog, runtime_client, postgres_store)
    # Blocking mode is stopped before its one call, so any draw will do.
    parameters = LONG if mode == "none" else long_draw(service.endpoint(MODEL), mode)
    before = server_counters(model_server_url)
    request = ChatRequest(model=MODEL, message=STORY, parameters=parameters)
    events = service.chat("alice", request)
    collected: list[Event] = []
    # Blocking mode has one piece of text: stop it before the call. Batched pieces hold 8 tokens.
    pieces_before_stop = {"none": 0, "batched": 1, "native": 3}[mode]
    for event in events:
        collected.append(event)
        pieces = sum(isinstance(e, TokenEvent) for e in collected)
        if isinstance(event, StartEvent | TokenEvent) and pieces == pieces_before_stop:
            service.stop("alice", collected[0].session_id)
    answer = service.get_conversation("alice", collected[0].session_id).messages[-1]
    generated = generated_since(model_server_url, before)
    assert answer.status == "stopped"
    assert answer.usage is not None
    reported = answer.usage.completion_tokens
    if mode == "native":
        # One token per event reached us; the server may decode a few more before it sees the close.
        assert reported is not None
        assert pieces_before_stop <= reported <= generated
    else:
        # No further call starts once the stop is seen: every token generated was counted.
        assert reported == generated
    if mode == "batched":
        assert reported > sum(isinstance(e, TokenEvent) for e in collected), "pieces hold several tokens"
