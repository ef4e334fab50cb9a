"""Gateway completions that bring tools (OpenAI `tools`): the caller runs its tools itself, so
one model call answers, either with text or with tool calls (ToolCallEvents, then Done with
finish_reason tool_calls). The conversation goes to the model as sent, tool calls and tool
results included; a model whose catalog entry does not take tools, or whose endpoint cannot pass
them on, is refused before any call. The call runs through the one generation pipeline (its
admissions: stream leases, quotas, API-key metering), as a /v1 answer that is not saved."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from chatbot.api.tool_specs import ToolRequest
from chatbot.chat.admission import ApiKeyMetering
from chatbot.chat.api_keys import ApiKey
from chatbot.chat.destinations import GatewayAnswer
from chatbot.chat.pipeline import Admission, Generation, Job, Pipeline
from chatbot.chat.store import HistoryStore
from chatbot.errors import InvalidRequestError, ParameterError
from chatbot.models.adapters import FittedPrompt, estimate_tokens
from chatbot.models.bedrock import BedrockEndpoint
from chatbot.models.endpoints import Endpoint
from chatbot.models.events import EventStream


class ToolCompletions:
    def __init__(self, endpoint_for: Callable[[str], Endpoint], store: HistoryStore, pipeline: Pipeline):
        self._endpoint_for = endpoint_for
        self._store = store
        self._pipeline = pipeline

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
        admissions: Sequence[Admission] = (),
    ) -> EventStream:
        """Raises for a bad request before any call; the events say the rest. `tools` may be None
        for a conversation that holds earlier tool calls and results but offers no tools now."""
        endpoint = self._endpoint_for(model)
        endpoint.spec.check_takes_tools()
        if not isinstance(endpoint, BedrockEndpoint):
            raise ParameterError(
                f"{model} takes tools on its model server, but calling SageMaker endpoints with tools is "
                "not supported yet: use a model served through the Converse API (kind: bedrock)."
            )
        last = next((m for m in reversed(messages) if m["role"] in ("user", "tool")), None)
        if last is None:
            raise InvalidRequestError("Send at least one user message: it is what gets answered.")
        params = endpoint.spec.resolve_parameters(parameters)
        text = [{"role": m["role"], "content": m.get("content") or ""} for m in messages]
        # The messages carry tool calls (not only text): the adapter's fitting does not apply.
        fitted = FittedPrompt.model_construct(prompt=messages, estimated_tokens=estimate_tokens(text))
        generation = Generation(
            None, endpoint, params, fitted, endpoint.stream(messages, params, tools=tools)
        )
        if key is not None:
            admissions = (*admissions, ApiKeyMetering(self._store, key))
        grant = self._pipeline.admit(user_id, [generation], admissions)
        destination = GatewayAnswer(self._store, user_id, [], last.get("content") or "", save=False)
        return self._pipeline.run([Job(generation, destination)], grant, cancelled or threading.Event())
