"""LiveTurn: the worker-fed state the pages draw, fed here with the chat API's own event types."""

from __future__ import annotations

import threading

from chatbot.models.events import (
    DoneEvent,
    ErrorEvent,
    LaneView,
    Metrics,
    SessionEvent,
    StartEvent,
    TokenEvent,
    Usage,
)
from streamlit_app.api import ApiError
from streamlit_app.live import LiveTurn


def done(lane=None, reason="eos"):
    return DoneEvent(
        lane=lane,
        finish_reason=reason,
        usage=Usage(completion_tokens=2),
        metrics=Metrics(ttft_ms=10, total_ms=20),
    )


TWO = [LaneView(id="a", label="Model A", model="one"), LaneView(id="b", label="Model B", model="two")]
ONE = [LaneView(id=None, label="smollm2-135m", model="smollm2-135m")]


def session(lanes=ONE, session_id="s1") -> SessionEvent:
    return SessionEvent(session_id=session_id, title="t", round=1, lanes=lanes)


def run(turn: LiveTurn, events, stops=None) -> LiveTurn:
    turn.start(
        lambda: iter(events),
        lambda session, lane: (stops if stops is not None else []).append((session, lane)),
    )
    assert turn.wait(5)
    return turn


def test_tokens_of_each_lane_go_to_that_lane_only():
    events = [
        session(TWO),
        StartEvent(lane="a", model="one"),
        StartEvent(lane="b", model="two"),
        TokenEvent(lane="b", text="Hel"),
        TokenEvent(lane="a", text="Bon"),
        TokenEvent(lane="b", text="lo"),
        done("a"),
        done("b", "length"),
    ]
    turn = run(LiveTurn("hi"), events)
    answers = turn.snapshot()
    assert (answers["a"].model, answers["a"].text) == ("one", "Bon")
    assert (answers["b"].model, answers["b"].text, answers["b"].finish_reason) == ("two", "Hello", "length")
    assert (turn.session_id, turn.round) == ("s1", 1)


def test_an_error_in_one_lane_leaves_the_others_streaming():
    events = [
        session(TWO),
        ErrorEvent(lane="a", code="model_error", message="The model failed."),
        TokenEvent(lane="b", text="fine"),
        done("b"),
    ]
    answers = run(LiveTurn("hi"), events).snapshot()
    assert answers["a"].error == "The model failed."
    assert (answers["b"].text, answers["b"].error) == ("fine", None)


def test_a_refused_request_fails_the_whole_turn_in_the_apis_words():
    def refused():
        raise ApiError("max_new_tokens=5000 is more than smollm2-135m allows (1024).", status=422)

    turn = LiveTurn("hi")
    turn.start(refused, lambda *_: None)
    assert turn.wait(5)
    assert turn.failure == "max_new_tokens=5000 is more than smollm2-135m allows (1024)."


def test_a_stream_that_ends_early_says_so_instead_of_waiting_forever():
    turn = run(LiveTurn("hi"), [session(), TokenEvent(text="par")])
    assert turn.snapshot()[None].error == "The answer ended without finishing. Try again."


def test_a_stop_asked_before_the_session_is_known_is_sent_once_it_is():
    release = threading.Event()
    stops: list[tuple[str, str | None]] = []

    def events():
        release.wait(5)
        yield session(session_id="s9")
        yield done(None, "stopped")

    turn = LiveTurn("hi")
    turn.start(events, lambda session, lane: stops.append((session, lane)))
    turn.request_stop()
    assert stops == []  # nothing to name yet
    release.set()
    assert turn.wait(5)
    assert stops == [("s9", None)]
    assert turn.snapshot()[None].finish_reason == "stopped"


def test_a_stop_of_one_lane_names_that_lane():
    stops: list[tuple[str, str | None]] = []
    turn = run(
        LiveTurn("hi"),
        [session(TWO), done("a"), done("b")],
        stops,
    )
    turn.request_stop("b")
    assert stops == [("s1", "b")]


def test_live_figures_count_the_tokens_the_server_counted():
    turn = LiveTurn("hi")
    turn.apply(session())
    turn.apply(TokenEvent(text="a few words", completion_tokens=4))
    figures = turn.snapshot()[None].live_figures()
    assert figures.tokens == 4, "one piece of text, four tokens"
    assert figures.ttft_s is not None
    assert figures.ttft_s >= 0


def test_the_lanes_are_the_ones_the_session_event_names():
    turn = LiveTurn("hi")
    assert turn.lanes == []
    assert turn.snapshot() == {}
    turn.apply(session(TWO))
    assert turn.lanes == TWO
    assert {lane: answer.model for lane, answer in turn.snapshot().items()} == {"a": "one", "b": "two"}
