"""ChatService with the real local models, the real model server and a real Postgres store."""

from __future__ import annotations

import threading

import pytest

from chatbot.api.requests import ChatRequest, CompareRequest, VoteRequest
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.chat.service import ChatService, ServiceLimits
from chatbot.chat.store import SessionNotFoundError
from chatbot.errors import InvalidRequestError, MessageTooLongError, ParameterError, UnknownModelError
from chatbot.models.catalog import ModelCatalog
from chatbot.models.clients import sagemaker_runtime_client
from chatbot.models.endpoints import SageMakerEndpoint
from chatbot.models.events import DoneEvent, ErrorEvent, LaneView, SessionEvent, StartEvent, TokenEvent
from tests.model_counters import after_cancel, counters
from tests.sampling import GREEDY, LONG, runs_to, seed_where, warm_up
from tests.servers import model_server_process

BOTH = ("smollm2-135m", "gemma3-270m")

#: Greedy: short answers that are never empty (see tests/sampling.py).
SHORT = {"max_new_tokens": 12, **GREEDY}


@pytest.fixture
def long_answer(catalog: ModelCatalog, runtime_client):
    """Parameters whose draw is proven to run past `tokens` tokens for each of `models` (stop
    tests need a stop to land mid-answer; a seed picked by hand only does so on one build)."""

    def parameters(message: str, models: tuple[str, ...] = ("smollm2-135m",), tokens: int = 80) -> dict:
        endpoints = [SageMakerEndpoint(catalog.get(model), runtime_client) for model in models]
        for endpoint in endpoints:
            warm_up(endpoint, message, LONG)
        seed = seed_where(
            lambda seed: all(runs_to(endpoint, message, tokens, LONG, seed) for endpoint in endpoints),
            f"answers of {tokens}+ tokens from {', '.join(models)} to {message!r}",
            key=(models, message, tokens),
            seeds=range(1, 201),  # Gemma ends most draws early: few seeds have long answers from both
        )
        return {**LONG, "seed": seed}

    return parameters


@pytest.fixture
def service(catalog: ModelCatalog, runtime_clients, postgres_store: PostgresHistoryStore) -> ChatService:
    return ChatService(
        catalog,
        runtime_clients.endpoint,
        postgres_store,
        limits=ServiceLimits(stop_poll_s=0.05),
    )


def text_of(events, lane=None) -> str:
    return "".join(e.text for e in events if isinstance(e, TokenEvent) and e.lane == lane)


def test_a_turn_saves_the_prompt_and_the_answer_with_its_figures(service: ChatService):
    events = list(
        service.chat("alice", ChatRequest(model="smollm2-135m", message="Hi there!", parameters=SHORT))
    )
    session_event, start, *_, done = events
    assert isinstance(session_event, SessionEvent)
    assert session_event.title == "Hi there!"
    assert session_event.lanes == [LaneView(id=None, label="smollm2-135m", model="smollm2-135m")]
    assert start == StartEvent(model="smollm2-135m")
    assert isinstance(done, DoneEvent)
    prompt, answer = service.get_conversation("alice", session_event.session_id).messages
    assert (prompt.role, prompt.content, prompt.seq) == ("user", "Hi there!", session_event.round)
    assert answer.content == text_of(events)
    assert answer.status == "complete"
    assert answer.model == "smollm2-135m"
    assert answer.reply_to == prompt.seq
    assert answer.usage == done.usage
    assert answer.metrics.ttft_ms > 0
    assert answer.parameters["max_new_tokens"] == 12


def test_a_second_turn_continues_the_session_with_its_history(service: ChatService):
    first = list(
        service.chat("alice", ChatRequest(model="gemma3-270m", message="My name is Ada.", parameters=SHORT))
    )
    session_id = first[0].session_id
    second = list(
        service.chat(
            "alice",
            ChatRequest(
                session_id=session_id, model="gemma3-270m", message="What is my name?", parameters=SHORT
            ),
        )
    )
    assert second[0].session_id == session_id
    messages = service.get_conversation("alice", session_id).messages
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert service.list_sessions("alice").sessions[0].id == session_id


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (ChatRequest(model="gpt-9", message="hi"), UnknownModelError),
        (ChatRequest(model="smollm2-135m", message="   "), InvalidRequestError),
        (ChatRequest(model="smollm2-135m", message="x" * 9000), MessageTooLongError),
        (
            ChatRequest(model="smollm2-135m", message="hi", parameters={"max_new_tokens": 5000}),
            ParameterError,
        ),
        (ChatRequest(model="smollm2-135m", message="hi", parameters={"temprature": 1}), ParameterError),
        (ChatRequest(session_id="nope", model="smollm2-135m", message="hi"), SessionNotFoundError),
    ],
)
def test_a_bad_request_is_refused_before_anything_is_saved(service: ChatService, request_, error):
    with pytest.raises(error):
        service.chat("alice", request_)
    assert service.list_sessions("alice").sessions == []


def test_compare_streams_both_models_at_once_each_with_its_own_history(service: ChatService, long_answer):
    request = CompareRequest(
        models=["smollm2-135m", "gemma3-270m"],
        message="Tell me a long story.",
        # Both draws run to 120 tokens: lane a is still writing well after lane b's first token.
        parameters=long_answer("Tell me a long story.", BOTH, tokens=120) | {"max_new_tokens": 120},
    )
    events = list(service.compare("alice", request))
    lanes_in_order = [e.lane for e in events if isinstance(e, TokenEvent)]
    first_b = lanes_in_order.index("b")
    assert "a" in lanes_in_order[first_b:], "lane a kept streaming after lane b started: they ran together"
    assert {e.lane for e in events if isinstance(e, DoneEvent)} == {"a", "b"}

    session_id = events[0].session_id
    follow_up = CompareRequest(session_id=session_id, message="And a vegetable?", parameters=SHORT)
    list(service.compare("alice", follow_up))
    messages = service.get_conversation("alice", session_id).messages
    assert [(m.role, m.lane) for m in messages[:1]] == [("user", None)]
    assert sorted(m.lane for m in messages if m.role == "assistant") == ["a", "a", "b", "b"]
    assert len(service.turns._history("alice", service.store.get_session("alice", session_id), "a")) == 4
    assert [(lane.id, lane.label, lane.model) for lane in events[0].lanes] == [
        ("a", "Model A", "smollm2-135m"),
        ("b", "Model B", "gemma3-270m"),
    ]


def test_a_stop_from_another_process_stops_the_generation_within_a_few_tokens(
    service: ChatService, catalog, runtime_client, postgres_store, long_answer
):
    # Another process: its own service object over the same store, as another Lambda would be.
    other = ChatService(catalog, lambda spec: SageMakerEndpoint(spec, runtime_client), postgres_store)
    events = service.chat(
        "alice",
        ChatRequest(
            model="smollm2-135m",
            message="Tell me a long story.",
            parameters=long_answer("Tell me a long story."),
        ),
    )
    collected = []
    for event in events:
        collected.append(event)
        if sum(isinstance(e, TokenEvent) for e in collected) == 5:
            other.stop("alice", collected[0].session_id)
            asked_at = len(collected)
    assert isinstance(collected[-1], DoneEvent)
    assert collected[-1].finish_reason == "stopped"
    assert len(collected) - asked_at < 30, "stopped within the poll interval"
    answer = service.get_conversation("alice", collected[0].session_id).messages[-1]
    assert answer.status == "stopped"
    assert answer.content == text_of(collected)
    assert answer.content


def test_stopping_one_lane_leaves_the_other_running(service: ChatService, long_answer):
    request = CompareRequest(
        models=["smollm2-135m", "gemma3-270m"],
        message="Tell me a long story.",
        parameters=long_answer("Tell me a long story.", tokens=60) | {"max_new_tokens": 60},
    )
    events = service.compare("alice", request)
    collected = []
    for event in events:
        collected.append(event)
        if (
            isinstance(event, TokenEvent)
            and event.lane == "a"
            and text_of(collected, "a")
            and len(collected) > 4
        ):
            service.stop("alice", collected[0].session_id, lane="a")
    done = {e.lane: e.finish_reason for e in collected if isinstance(e, DoneEvent)}
    assert done["a"] == "stopped"
    assert done["b"] != "stopped"
    statuses = {
        m.lane: m.status
        for m in service.get_conversation("alice", collected[0].session_id).messages
        if m.role == "assistant"
    }
    assert statuses == {"a": "stopped", "b": "complete"}


def test_a_caller_that_goes_away_leaves_the_answer_saved_as_stopped(
    service: ChatService, model_server_url, long_answer
):
    before = counters(model_server_url, "smollm2-135m")
    events = service.chat(
        "alice",
        ChatRequest(
            model="smollm2-135m",
            message="Tell me a long story.",
            parameters=long_answer("Tell me a long story."),
        ),
    )
    session_id = next(events).session_id
    for event in events:
        if isinstance(event, TokenEvent):
            break
    events.close()
    answer = service.get_conversation("alice", session_id).messages[-1]
    assert answer.status == "stopped"
    after = after_cancel(model_server_url, "smollm2-135m", before)
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["running"] == 0, "no decoding is left running"


def test_arena_hides_the_models_until_the_vote_and_then_closes_the_round(service: ChatService, catalog):
    events = list(
        service.compare("alice", CompareRequest(arena=True, message="Say hello.", parameters=SHORT))
    )
    starts = {e.lane: e.model for e in events if isinstance(e, StartEvent)}
    assert starts == {"a": "Model A", "b": "Model B"}
    session_event = events[0]
    assert [(lane.id, lane.label, lane.model, lane.hidden) for lane in session_event.lanes] == [
        ("a", "Model A", None, True),
        ("b", "Model B", None, True),
    ]
    hidden = service.get_conversation("alice", session_event.session_id)
    assert not hidden.revealed
    assert [(lane.model, lane.hidden) for lane in hidden.lanes] == [(None, True), (None, True)]
    assert {lane.model for lane in hidden.session.lanes} == {"Model A", "Model B"}
    listed = next(s for s in service.list_sessions("alice").sessions if s.id == session_event.session_id)
    assert {lane.model for lane in listed.lanes} == {"Model A", "Model B"}, "the history list hides them too"
    assert all(m.model in (None, "Model A", "Model B") for m in hidden.messages)

    vote = service.vote(
        "alice", VoteRequest(session_id=session_event.session_id, round=session_event.round, choice="left")
    )
    assert len(set(vote.models.values())) == 2
    assert set(vote.models.values()) <= set(catalog.names), "two of the catalog's models, drawn at random"
    assert vote.models == {lane.id: lane.model for lane in vote.lanes}, "named from the session's lanes"
    assert not any(lane.hidden for lane in vote.lanes)
    assert vote.vote.anonymous
    revealed = service.get_conversation("alice", session_event.session_id)
    assert revealed.revealed
    assert revealed.voted_rounds == [session_event.round]
    assert sorted(lane.model for lane in revealed.session.lanes) == sorted(vote.models.values())
    with pytest.raises(InvalidRequestError, match="round is over"):
        service.compare("alice", CompareRequest(session_id=session_event.session_id, message="again"))
    board = service.leaderboard()
    assert board.votes == 1
    assert {rating.model for rating in board.ratings} == set(vote.models.values())


def test_votes_are_checked(service: ChatService):
    events = list(
        service.compare(
            "alice", CompareRequest(models=["smollm2-135m", "gemma3-270m"], message="Hi", parameters=SHORT)
        )
    )
    session_id, round_ = events[0].session_id, events[0].round
    with pytest.raises(InvalidRequestError, match="vote one of: both_bad, left, right, tie"):
        service.vote("alice", VoteRequest(session_id=session_id, round=round_, choice="best", best_lane="a"))
    with pytest.raises(InvalidRequestError, match="not a prompt"):
        service.vote("alice", VoteRequest(session_id=session_id, round=round_ + 1, choice="left"))
    with pytest.raises(SessionNotFoundError):
        service.vote("bob", VoteRequest(session_id=session_id, round=round_, choice="left"))
    service.vote("alice", VoteRequest(session_id=session_id, round=round_, choice="tie"))
    assert service.leaderboard().votes == 0, "named (non-arena) votes do not count"


def test_chat_and_compare_sessions_do_not_mix(service: ChatService):
    chat = list(service.chat("alice", ChatRequest(model="smollm2-135m", message="Hi", parameters=SHORT)))
    with pytest.raises(InvalidRequestError, match="/chat"):
        service.compare("alice", CompareRequest(session_id=chat[0].session_id, message="Hi"))
    with pytest.raises(InvalidRequestError, match="Compare 2 to 4 models"):
        service.compare("alice", CompareRequest(models=["smollm2-135m"], message="Hi"))


def test_the_model_server_dying_mid_stream_fails_one_lane_and_the_other_finishes(
    catalog: ModelCatalog, runtime_client, postgres_store, long_answer
):
    with model_server_process("--only", "smollm2-135m") as (doomed_url, doomed_process):
        doomed = sagemaker_runtime_client(endpoint_url=doomed_url, max_attempts=1)
        clients = {"smollm2-135m": doomed, "gemma3-270m": runtime_client}
        service = ChatService(
            catalog, lambda spec: SageMakerEndpoint(spec, clients[spec.name]), postgres_store
        )
        request = CompareRequest(
            models=["smollm2-135m", "gemma3-270m"],
            message="Tell a long story.",
            parameters=long_answer("Tell a long story.") | {"max_new_tokens": 80},
        )
        events = service.compare("alice", request)
        collected = []
        killed = threading.Event()
        for event in events:
            collected.append(event)
            if not killed.is_set() and len(text_of(collected, "a")) > 10:
                doomed_process.kill()  # SIGKILL: no goodbye on the wire
                killed.set()
    errors = [e for e in collected if isinstance(e, ErrorEvent)]
    assert [(e.lane, e.code) for e in errors] == [("a", "stream_interrupted")]
    assert any(isinstance(e, DoneEvent) and e.lane == "b" for e in collected)
    answers = {
        m.lane: m
        for m in service.get_conversation("alice", collected[0].session_id).messages
        if m.role == "assistant"
    }
    assert answers["a"].status == "error"
    assert answers["a"].content == text_of(collected, "a")
    assert answers["b"].status == "complete"
