"""The turn accumulator: one reading of a lane's events, shared by the service and the UI."""

from __future__ import annotations

import pytest

from chatbot.api.answer import Answer
from chatbot.models.events import (
    DoneEvent,
    ErrorEvent,
    Metrics,
    Source,
    SourcesEvent,
    StartEvent,
    TokenEvent,
    Usage,
)

SOURCE = Source(document_id="d1", document_name="notes.md", chunk_index=0, score=0.5)


def fed(*events) -> Answer:
    answer = Answer("a")
    for event in events:
        answer.feed(event)
    return answer


def test_a_finished_answer_keeps_what_the_server_said():
    done = DoneEvent(
        finish_reason="length", usage=Usage(prompt_tokens=9, completion_tokens=3), metrics=Metrics(total_ms=5)
    )
    answer = fed(
        StartEvent(model="smollm2-135m"),
        SourcesEvent(sources=[SOURCE]),
        TokenEvent(text="Hel", completion_tokens=1),
        TokenEvent(text="lo", completion_tokens=3),
        done,
    )
    assert (answer.model, answer.text, answer.sources) == ("smollm2-135m", "Hello", [SOURCE])
    assert (answer.finished, answer.status, answer.finish_reason) == (True, "complete", "length")
    assert answer.usage == done.usage
    assert answer.done_event() == done.model_copy(update={"lane": "a"})


def test_a_stopped_answer_counts_the_tokens_the_stream_counted_not_its_text_pieces():
    answer = fed(
        TokenEvent(text="one two three ", completion_tokens=5), TokenEvent(text="four", completion_tokens=8)
    )
    answer.end("stopped")
    assert answer.status == "stopped"
    assert answer.usage == Usage(completion_tokens=8), "two pieces, eight tokens"
    assert answer.metrics is not None
    assert answer.metrics.ttft_ms is not None


def test_when_the_server_does_not_count_tokens_neither_tokens_nor_tokens_per_s_are_guessed():
    answer = fed(TokenEvent(text="some words"), TokenEvent(text=" more words"))
    answer.end("stopped")
    assert answer.usage == Usage(completion_tokens=None)
    assert answer.metrics is not None
    assert answer.metrics.tokens_per_s is None
    assert answer.live_figures().tokens is None


def test_an_error_event_ends_the_answer_as_failed_and_keeps_its_text():
    answer = fed(
        TokenEvent(text="par", completion_tokens=1), ErrorEvent(code="stream_interrupted", message="broke")
    )
    assert (answer.status, answer.error, answer.error_code, answer.text) == (
        "error",
        "broke",
        "stream_interrupted",
        "par",
    )
    answer.end("stopped")  # a later stop changes nothing: an answer ends once
    assert answer.status == "error"


def test_an_answer_has_no_last_event_until_it_ends():
    with pytest.raises(RuntimeError, match="not ended"):
        Answer().done_event()
