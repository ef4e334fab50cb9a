"""Gateway completions that bring tools (OpenAI `tools`): the caller runs its tools itself, so
one model call answers, either with text or with tool calls (ToolCallEvents, then Done with
finish_reason tool_calls). The conversation goes to the model as sent, tool calls and tool
results included; a model whose catalog entry does not take tools, or whose endpoint cannot pass
them on, is refused before any call. Calls made with an API key are counted against it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from chatbot.chat.api_keys import ApiKey
from chatbot.chat.records import utc_now
from chatbot.chat.store import HistoryStore
from chatbot.errors import InvalidRequestError, ParameterError
from chatbot.models.bedrock import BedrockEndpoint
from chatbot.models.endpoints import ModelEndpoint
from chatbot.models.events import DoneEvent, Event
from chatbot.tools.specs import ToolRequest


class ToolCompletions:
    def __init__(self, endpoint_for: Callable[[str], ModelEndpoint], store: HistoryStore):
        self._endpoint_for = endpoint_for
        self._store = store

    def start(
        self,
        user_id: str,
        model: str,
        messages: list[dict[str, Any]],
        parameters: dict[str, Any],
        tools: ToolRequest | None,
        *,
        key: ApiKey | None = None,
        cancelled: threading.Event | None = None,
    ) -> Iterator[Event]:
        """Raises for a bad request before any call; the events say the rest. `tools` may be None
        for a conversation that holds earlier tool calls and results but offers no tools now."""
        endpoint = self._endpoint_for(model)
        endpoint.spec.check_takes_tools()
        if not isinstance(endpoint, BedrockEndpoint):
            raise ParameterError(
                f"{model} takes tools on its model server, but calling SageMaker endpoints with tools is "
                "not supported yet: use a model served through the Converse API (kind: bedrock)."
            )
        if not any(message["role"] in ("user", "tool") for message in messages):
            raise InvalidRequestError("Send at least one user message: it is what gets answered.")
        params = endpoint.spec.resolve_parameters(parameters)
        events = endpoint.stream(messages, params, tools=tools)
        return self._counted(events, key, cancelled or threading.Event())

    def _counted(
        self, events: Iterator[Event], key: ApiKey | None, cancelled: threading.Event
    ) -> Iterator[Event]:
        prompt_tokens = completion_tokens = 0
        try:
            for event in events:
                if cancelled.is_set():
                    break
                if isinstance(event, DoneEvent):
                    prompt_tokens = event.usage.prompt_tokens or 0
                    completion_tokens = event.usage.completion_tokens or 0
                yield event
        finally:
            events.close()  # closes the model's stream: the server stops decoding
            if key is not None:
                self._store.record_api_key_use(key, prompt_tokens, completion_tokens, utc_now())
