"""A model failing mid-answer reaches OpenAI clients in OpenAI's shape: an error status for a whole
answer, a `data: {"error": ...}` event for a stream (which the openai client raises)."""

from __future__ import annotations

import asyncio
import json

from chatbot.errors import ModelStreamError, ModelThrottledError
from chatbot.models.events import ErrorEvent, StartEvent, TokenEvent
from lambdas.chat_api.gateway import _completion, _sse


async def _collect(events) -> list[bytes]:
    async def source():
        for event in events:
            yield event

    return [chunk async for chunk in _sse(source(), "m", include_usage=True)]


def test_a_whole_answer_that_failed_is_an_error_with_the_errors_own_status():
    busy = ErrorEvent.from_exception(ModelThrottledError("m is busy right now. Try again in a moment."))
    response = _completion([StartEvent(model="m"), busy], "m")
    assert response.status_code == 429
    assert json.loads(response.body)["error"] == {
        "message": "m is busy right now. Try again in a moment.",
        "type": "rate_limit_error",
        "param": None,
        "code": "model_busy",
    }


def test_a_stream_that_fails_part_way_ends_with_an_error_event_and_done():
    broken = ErrorEvent.from_exception(ModelStreamError("The stream broke part-way."))
    lines = asyncio.run(_collect([StartEvent(model="m"), TokenEvent(text="Hel"), broken]))
    payloads = [line.decode().removeprefix("data: ").strip() for line in lines]
    assert payloads[-1] == "[DONE]"
    error = json.loads(payloads[-2])["error"]
    assert (error["type"], error["code"], error["message"]) == (
        "api_error",
        "stream_interrupted",
        "The stream broke part-way.",
    )
    assert json.loads(payloads[1])["choices"][0]["delta"]["content"] == "Hel"
