"""Relaying a model's blocking event iterator to an async HTTP response, stop included; and the
per-user cap on concurrent streams that every stream passes first."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from chatbot.api.requests import CompareRequest
from chatbot.chat.arena import MAX_LANES
from chatbot.chat.service import ChatService
from chatbot.errors import ChatbotError
from chatbot.models.events import ErrorEvent, Event
from chatbot.policy.stream_leases import StreamLeases, UnlimitedStreams


def stream_leases(request: Request) -> StreamLeases:
    return getattr(request.app.state, "stream_leases", None) or UnlimitedStreams()


Leases = Annotated[StreamLeases, Depends(stream_leases)]


async def leased(
    leases: StreamLeases,
    user_id: str,
    lanes: int,
    start: Callable[..., Iterator[Event]],
    *args: Any,
    **kwargs: Any,
) -> Iterator[Event]:
    """The events of `start(*args, **kwargs)`, holding one lease per lane while they stream
    (a 429 before anything starts when the user has too many streaming). The lease goes back
    when the events end, are closed (stop, disconnect) or fail; if they are never read, it expires."""
    lease = await run_in_threadpool(leases.acquire, user_id, lanes)
    try:
        events = await run_in_threadpool(start, *args, **kwargs)
    except BaseException:
        await run_in_threadpool(leases.release, lease)
        raise
    return leases.held(events, lease)


def lanes_of(service: ChatService, user_id: str, body: CompareRequest) -> int:
    """How many model calls a compare request makes: its models, an arena's lanes, or the lanes
    of the session it continues. Never more than a comparison may have: a request for more is
    refused by the service with a 422 that says why, not with a 429 for the leases it asked."""
    if body.models:
        wanted = len(body.models)
    elif body.arena and not body.session_id:
        wanted = body.lanes
    else:
        try:
            wanted = len(service.store.get_session(user_id, body.session_id or "").lanes)
        except ChatbotError:
            wanted = 1  # the service answers what is wrong with the session
    return min(max(wanted, 1), MAX_LANES)


async def relay(events: Iterator[Event], cancelled: threading.Event) -> AsyncIterator[Event]:
    """The events, pumped from a worker thread. If the client goes away, the generation is told
    to stop: it saves what it has, and the model server stops decoding."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for event in events:
                loop.call_soon_threadsafe(queue.put_nowait, event)
                if cancelled.is_set():
                    events.close()
                    break
        except Exception as exc:
            failure = ErrorEvent(code="internal_error", message=f"The answer failed: {exc}")
            loop.call_soon_threadsafe(queue.put_nowait, failure)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="chat-stream", daemon=True).start()
    try:
        while (event := await queue.get()) is not None:
            yield event
    finally:
        cancelled.set()  # a no-op when the stream ended by itself
