"""Relaying a model's blocking event iterator to an async HTTP response, stop included."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

from chatbot.models.events import ErrorEvent, Event


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
