"""Relaying a model's blocking event iterator to an async HTTP response, stop included; and the
per-user cap on concurrent streams that every stream is admitted by."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from chatbot.chat.admission import StreamLeaseAdmission
from chatbot.chat.pipeline import Admission
from chatbot.models.events import ErrorEvent, Event, EventStream
from chatbot.policy.stream_leases import StreamLeases, UnlimitedStreams


def stream_leases(request: Request) -> StreamLeases:
    return getattr(request.app.state, "stream_leases", None) or UnlimitedStreams()


Leases = Annotated[StreamLeases, Depends(stream_leases)]


async def admitted(
    leases: StreamLeases,
    start: Callable[..., EventStream],
    *args: Any,
    quota: Admission | None = None,
    access: Admission | None = None,
    **kwargs: Any,
) -> EventStream:
    """The events of `start(*args, **kwargs)` (a ChatService or Completions entry point), with
    the stream leases as one of the generation pipeline's admissions: one lease per answer,
    taken once the request is known to be good (a 429 before anything is saved when the user
    has too many streaming), given back when the events end, are closed (stop, disconnect) or
    fail; if they are never read, the leases expire. `quota` (the caller's limits) is admitted
    after the leases. `access` (the models the caller may use) is admitted first: a refused model
    takes no lease and reserves nothing."""
    admissions = (*((access,) if access else ()), StreamLeaseAdmission(leases), *((quota,) if quota else ()))
    return await run_in_threadpool(start, *args, admissions=admissions, **kwargs)


async def relay(events: EventStream, cancelled: threading.Event) -> AsyncIterator[Event]:
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
