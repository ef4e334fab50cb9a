"""The logic of turns, arena and stop, driven by a scripted model (tests/scripted_endpoint.py)
and a real Postgres store: how an answer ends (complete, stopped, failed, cut off) and what is
saved of it. The same behaviour on the real models is in test_service.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest

from chatbot.api.records import Message
from chatbot.api.requests import ChatRequest, CompareRequest
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.chat.service import ChatService, ServiceLimits
from chatbot.errors import ModelThrottledError, ParameterError
from chatbot.models.catalog import ModelCatalog
from chatbot.models.events import DoneEvent, ErrorEvent, SessionEvent, StartEvent, TokenEvent
from tests.scripted_endpoint import Crash, Fail, Hold, ScriptedEndpoint, Scripts, Step

SMOL, GEMMA = "smollm2-135m", "gemma3-270m"


@pytest.fixture
def make_service(
    catalog: ModelCatalog, postgres_store: PostgresHistoryStore
) -> Callable[..., tuple[ChatService, Scripts]]:
    def make(scripts: dict[str, Sequence[Step]] | None = None, **kwargs) -> tuple[ChatService, Scripts]:
        endpoints = Scripts(scripts or {}, **kwargs)
        # Every check reads the store: a stop made elsewhere is seen at the next event, untimed.
        service = ChatService(catalog, endpoints, postgres_store, limits=ServiceLimits(stop_poll_s=0))
        return service, endpoints

    return make


def answers(service: ChatService, session_id: str, user: str = "alice") -> list[Message]:
    return [m for m in service.get_conversation(user, session_id).messages if m.role == "assistant"]


def text_of(events, lane=None) -> str:
    return "".join(e.text for e in events if isinstance(e, TokenEvent) and e.lane == lane)


def test_a_chat_answer_is_saved_with_the_servers_counts(make_service):
    service, _ = make_service({SMOL: ["Hello", ",", " Ada"]})
    events = list(service.chat("alice", ChatRequest(model=SMOL, message="Hi")))
    session, start, *_tokens, done = events
    assert isinstance(session, SessionEvent)
    assert start == StartEvent(model=SMOL)
    assert text_of(events) == "Hello, Ada"
    assert isinstance(done, DoneEvent)
    assert done.finish_reason == "eos"
    [answer] = answers(service, session.session_id)
    assert (answer.content, answer.status, answer.model, answer.reply_to) == (
        "Hello, Ada",
        "complete",
        SMOL,
        1,
    )
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (7, 3)
    assert answer.usage == done.usage


def test_an_unknown_prompt_count_stays_unknown_in_the_session(make_service):
    service, _ = make_service(prompt_tokens=None)
    *_, done = service.chat("alice", ChatRequest(model=SMOL, message="Hi"))
    assert done.usage.prompt_tokens is None  # shown as "—", never guessed in a chat


def test_an_answer_ends_at_max_new_tokens(make_service):
    service, endpoints = make_service({SMOL: ["a", "b", "c", "d"]})
    events = list(
        service.chat("alice", ChatRequest(model=SMOL, message="Hi", parameters={"max_new_tokens": 2}))
    )
    assert text_of(events) == "ab"
    assert events[-1].finish_reason == "length"
    assert endpoints.endpoints[SMOL].calls[0].params.max_new_tokens == 2


def test_bad_parameters_are_refused_before_anything_is_saved(make_service):
    service, _ = make_service()
    with pytest.raises(ParameterError):
        service.chat("alice", ChatRequest(model=SMOL, message="Hi", parameters={"max_new_tokens": 99999}))
    assert service.list_sessions("alice").sessions == []


def test_the_history_a_model_sees_is_the_session_so_far(make_service):
    service, endpoints = make_service({SMOL: ["Nice to", " meet you"]})
    first = list(service.chat("alice", ChatRequest(model=SMOL, message="My name is Ada.")))
    list(service.chat("alice", ChatRequest(session_id=first[0].session_id, model=SMOL, message="Name?")))
    second_prompt = str(endpoints.endpoints[SMOL].calls[1].prompt)
    assert "My name is Ada." in second_prompt
    assert "Nice to meet you" in second_prompt
    assert "Name?" in second_prompt


def test_a_model_error_part_way_keeps_the_partial_answer_as_failed(make_service):
    busy = ModelThrottledError("smollm2-135m is busy right now. Try again in a moment.")
    service, _ = make_service({SMOL: ["Par", "tial", Fail(busy), "never"]})
    events = list(service.chat("alice", ChatRequest(model=SMOL, message="Hi")))
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert error.code == "model_busy"
    assert not any(isinstance(event, DoneEvent) for event in events)
    [answer] = answers(service, events[0].session_id)
    assert (answer.content, answer.status, answer.error) == ("Partial", "error", str(busy))


def test_an_untyped_failure_is_raised_and_the_answer_saved_as_failed(make_service):
    service, _ = make_service({SMOL: ["Par", Crash(RuntimeError("connection reset"))]})
    events = service.chat("alice", ChatRequest(model=SMOL, message="Hi"))
    session = next(events)
    with pytest.raises(RuntimeError):
        list(events)
    [answer] = answers(service, session.session_id)
    assert (answer.content, answer.status, answer.error) == ("Par", "error", "connection reset")


def test_a_stop_in_this_process_ends_the_answer_and_the_models_stream(make_service):
    service, endpoints = make_service({SMOL: ["one", " two", " three", " four"]})
    events = service.chat("alice", ChatRequest(model=SMOL, message="Hi"))
    session, _start, first = next(events), next(events), next(events)
    assert first.text == "one"
    service.stop("alice", session.session_id)
    rest = list(events)
    assert isinstance(rest[-1], DoneEvent)
    assert rest[-1].finish_reason == "stopped"
    [answer] = answers(service, session.session_id)
    assert (answer.content, answer.status, answer.usage.completion_tokens) == ("one", "stopped", 1)
    assert endpoints.endpoints[SMOL].calls[0].closed_early  # the server stops decoding


def test_a_stop_made_by_another_process_reaches_the_answer_through_the_store(
    make_service, catalog: ModelCatalog, postgres_store: PostgresHistoryStore
):
    service, _ = make_service({SMOL: ["one", " two", " three"]})
    elsewhere = ChatService(catalog, ScriptedEndpoint, postgres_store)  # shares only the store
    events = service.chat("alice", ChatRequest(model=SMOL, message="Hi"))
    session, _start, _first = next(events), next(events), next(events)
    elsewhere.stop("alice", session.session_id)
    assert list(events)[-1].finish_reason == "stopped"
    assert answers(service, session.session_id)[0].content == "one"


def test_a_caller_who_goes_away_leaves_the_answer_saved_as_stopped(make_service):
    service, endpoints = make_service({SMOL: ["one", " two", " three"]})
    events = service.chat("alice", ChatRequest(model=SMOL, message="Hi"))
    session, _start, _first = next(events), next(events), next(events)
    events.close()
    [answer] = answers(service, session.session_id)
    assert (answer.content, answer.status) == ("one", "stopped")
    assert endpoints.endpoints[SMOL].calls[0].closed_early


def test_compare_lanes_answer_with_their_own_history_and_are_saved_apart(make_service):
    service, endpoints = make_service({SMOL: ["small"], GEMMA: ["gem"]})
    first = list(service.compare("alice", CompareRequest(models=[SMOL, GEMMA], message="Hi")))
    assert first[0].lanes[0].model == SMOL
    assert not first[0].lanes[0].hidden
    assert (text_of(first, "a"), text_of(first, "b")) == ("small", "gem")
    list(service.compare("alice", CompareRequest(session_id=first[0].session_id, message="Again")))
    assert "gem" not in str(endpoints.endpoints[SMOL].calls[1].prompt)  # lane a sees only its own answers
    saved = answers(service, first[0].session_id)
    assert sorted((m.lane, m.model, m.content) for m in saved) == [
        ("a", SMOL, "small"),
        ("a", SMOL, "small"),
        ("b", GEMMA, "gem"),
        ("b", GEMMA, "gem"),
    ]


def test_an_arena_hides_its_models_while_they_answer(make_service):
    service, _ = make_service()
    events = list(service.compare("alice", CompareRequest(arena=True, lanes=2, message="Hi")))
    assert [view.model for view in events[0].lanes] == [None, None]
    starts = sorted((e.lane, e.model) for e in events if isinstance(e, StartEvent))
    assert starts == [("a", "Model A"), ("b", "Model B")]
    shown = service.get_conversation("alice", events[0].session_id).messages
    assert {m.model for m in shown if m.role == "assistant"} == {"Model A", "Model B"}
    drawn = {lane.id: lane.model for lane in service.store.get_session("alice", events[0].session_id).lanes}
    stored = service.store.list_messages("alice", events[0].session_id)
    assert {m.lane: m.model for m in stored if m.role == "assistant"} == drawn  # saved by their names


def test_one_lane_failing_leaves_the_other_lanes_answers(make_service):
    service, _ = make_service({SMOL: ["x", Crash(RuntimeError("boom"))], GEMMA: ["fine"]})
    events = list(service.compare("alice", CompareRequest(models=[SMOL, GEMMA], message="Hi")))
    failure = next(e for e in events if isinstance(e, ErrorEvent))
    assert (failure.lane, failure.message) == ("a", "This pane failed: boom")
    assert [e.lane for e in events if isinstance(e, DoneEvent)] == ["b"]
    saved = {m.lane: m.status for m in answers(service, events[0].session_id)}
    assert saved == {"a": "error", "b": "complete"}


def test_stopping_one_lane_leaves_the_others_running(make_service):
    release = threading.Event()
    service, _ = make_service({SMOL: ["one", Hold(release), " two", " three"], GEMMA: ["all", " of", " it"]})
    events = service.compare("alice", CompareRequest(models=[SMOL, GEMMA], message="Hi"))
    session = next(events)
    seen = []
    for event in events:
        seen.append(event)
        if isinstance(event, TokenEvent) and event.lane == "a":
            break
    service.stop("alice", session.session_id, lane="a")
    release.set()
    seen += list(events)
    done = {e.lane: e.finish_reason for e in seen if isinstance(e, DoneEvent)}
    assert done == {"a": "stopped", "b": "eos"}
    saved = {m.lane: (m.status, m.content) for m in answers(service, session.session_id)}
    assert saved["b"] == ("complete", "all of it")
    assert saved["a"][0] == "stopped"
    assert saved["a"][1].startswith("one")
