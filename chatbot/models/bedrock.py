"""Calling a Bedrock model through boto3's `bedrock-runtime` client and the Converse API.

- native: ConverseStream (`converse_stream`), read event by event;
- none: one blocking Converse (`converse`).

Converse takes messages, so no prompt format is needed: the adapter (`chat-messages` unless
the ModelSpec names another) only fits the conversation into the window and supplies the
system prompt. GenerationParams become `inferenceConfig`, checked against the model's
`deployment.bedrock_bounds` before any call; usage and latency come from the `metadata`
event. Bedrock's errors become the library's typed errors, with what to do about them.
The same events as every other model come out, through the same stop-word hold-back.

Throttling (a new account's quotas are a few requests a minute) is retried with exponential
backoff and full jitter for up to `throttle_budget_s` of the answer's time, beyond botocore's own
few quick retries; after that the user reads "<model> is busy, try again in N s".
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Generator
from typing import Any

from botocore.exceptions import ClientError, EventStreamError

from chatbot.api.tool_specs import ToolRequest
from chatbot.errors import (
    ChatbotError,
    ConfigError,
    ModelCallError,
    ModelStreamError,
    ModelThrottledError,
    ParameterError,
    PromptTooLongError,
)
from chatbot.models.adapters import adapter_for
from chatbot.models.deployment import BEDROCK_BOUNDS
from chatbot.models.endpoints import CONNECTION_ERRORS, Endpoint, model_events
from chatbot.models.events import EventStream, ToolCallEvent
from chatbot.models.request_config import ParsedChunk, within_bounds
from chatbot.models.spec import GenerationParams, ModelSpec, StreamingMode
from chatbot.models.stop_words import StopWordFilter

#: Bedrock error codes a retry a little later usually cures.
_BUSY = {
    "ThrottlingException",
    "ServiceQuotaExceededException",
    "ModelNotReadyException",
    "ServiceUnavailableException",
    "throttlingException",
    "serviceUnavailableException",
}
#: How much of an answer's time throttled calls may spend waiting to be tried again.
THROTTLE_BUDGET_S = 20.0
#: The first wait after a throttled call, and the most any one wait may be.
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 8.0


class BedrockEndpoint(Endpoint):
    def __init__(
        self,
        spec: ModelSpec,
        client: Any,
        *,
        throttle_budget_s: float = THROTTLE_BUDGET_S,
        sleep: Callable[[float], None] = time.sleep,
    ):
        """`client` is a boto3 bedrock-runtime client (see chatbot.models.clients). Throttled calls
        are tried again for up to `throttle_budget_s` (`sleep` waits; tests pass their own)."""
        adapter = adapter_for(spec.model_id, spec.adapter or "chat-messages")
        if adapter.input_kind != "messages":
            raise ConfigError(
                f"model {spec.name!r}: Converse takes messages, but adapter {adapter.name!r} writes a text "
                "prompt. Leave `adapter` out (chat-messages is used) or name a messages adapter."
            )
        super().__init__(spec, adapter)
        self.model_id: str = spec.deployment.model_id or ""
        self._client = client
        self._throttle_budget_s = throttle_budget_s
        self._sleep = sleep

    def stream(
        self,
        prompt: str | list[dict[str, str]],
        params: GenerationParams,
        *,
        mode: StreamingMode | None = None,
        tools: ToolRequest | None = None,
    ) -> EventStream:
        """`tools`: the model may call them (ToolCallEvents, then Done with finish_reason
        tool_calls); the prompt may hold assistant `tool_calls` and `tool` messages."""
        if tools is not None:
            self.spec.check_takes_tools()
        if not isinstance(prompt, str) and any(message.get("images") for message in prompt):
            self.spec.check_takes_images()
        wire = params.wire_values(self.adapter.stop_words())
        request = self.request(prompt, wire, tools)  # raises ParameterError before any call
        source = (
            self._native(request) if (mode or self.spec.streaming) == "native" else self._blocking(request)
        )
        return model_events(self.spec, source, StopWordFilter(wire["stop"] or []))

    def request(
        self, prompt: str | list[dict[str, Any]], wire: dict[str, Any], tools: ToolRequest | None = None
    ) -> dict[str, Any]:
        """Converse's keyword arguments for this prompt and these wire values."""
        if isinstance(prompt, str):
            raise ParameterError("Bedrock's Converse takes a message list, not a text prompt.")
        deployment = self.spec.deployment
        values = within_bounds(wire, deployment.bedrock_bounds or BEDROCK_BOUNDS)
        inference = {
            "maxTokens": values["max_new_tokens"],
            "temperature": values["temperature"],
            "topP": values["top_p"],
            "stopSequences": values["stop"],
        }
        system, messages = converse_messages(prompt)
        request: dict[str, Any] = {
            "modelId": self.model_id,
            "messages": messages,
            "inferenceConfig": {key: value for key, value in inference.items() if value is not None},
        }
        if system:
            request["system"] = [{"text": system}]
        extra = {
            name: values[name]
            for name in deployment.bedrock_request_fields
            if values.get(name) is not None and not (name == "top_k" and values[name] == 0)
        }
        if extra:
            request["additionalModelRequestFields"] = extra
        if tools is not None and tools.choice.mode != "none":  # Converse has no "none": no tools
            request["toolConfig"] = tool_config(tools)
        return request

    # -- sources: each yields ParsedChunks; the last one carries finish reason and usage --------

    def _native(self, request: dict[str, Any]) -> Generator[ParsedChunk | ToolCallEvent, None, None]:
        stream = self._call(self._client.converse_stream, request)["stream"]
        finish: str | None = None
        calls = _StreamedCalls()
        try:
            for event in stream:
                if "contentBlockStart" in event:
                    calls.start(event["contentBlockStart"])
                elif "contentBlockDelta" in event:
                    delta = event["contentBlockDelta"]["delta"]
                    if "toolUse" in delta:
                        calls.add(event["contentBlockDelta"], delta["toolUse"])
                    else:
                        yield ParsedChunk(text=delta.get("text", ""))
                elif "contentBlockStop" in event:
                    if call := calls.stop(event["contentBlockStop"]):
                        yield call
                elif "messageStop" in event:
                    finish = event["messageStop"].get("stopReason")
                elif "metadata" in event:
                    yield _final_chunk(finish, event["metadata"])
        except EventStreamError as exc:
            raise _from_stream_error(self.spec, exc) from exc
        except CONNECTION_ERRORS as exc:
            raise ModelStreamError(
                f"The connection to Bedrock broke part-way ({exc}). The partial answer was kept."
            ) from exc
        finally:
            stream.close()  # stops the model's work when we stopped early

    def _blocking(self, request: dict[str, Any]) -> Generator[ParsedChunk | ToolCallEvent, None, None]:
        response = self._call(self._client.converse, request)
        content = response.get("output", {}).get("message", {}).get("content", [])
        yield ParsedChunk(text="".join(block.get("text", "") for block in content))
        for block in content:
            if use := block.get("toolUse"):
                yield ToolCallEvent(id=use["toolUseId"], name=use["name"], arguments=use.get("input") or {})
        yield _final_chunk(response.get("stopReason"), response)

    def _call(self, operation: Callable[..., dict], request: dict[str, Any]) -> dict:
        waited, ceiling = 0.0, FIRST_BACKOFF_S
        while True:
            try:
                return operation(**request)
            except ClientError as exc:
                if not _is_busy(exc):
                    raise _from_client_error(self.spec, exc) from exc
                wait = random.uniform(0, ceiling)  # full jitter: throttled callers spread out
                if waited + wait > self._throttle_budget_s:
                    retry_in = max(1, math.ceil(ceiling))
                    raise ModelThrottledError(
                        f"{self.spec.name} is busy (Bedrock is throttling this account's requests), "
                        f"try again in {retry_in} s."
                    ) from exc
                self._sleep(wait)
                waited += wait
                ceiling = min(ceiling * 2, MAX_BACKOFF_S)
            except CONNECTION_ERRORS as exc:
                raise ModelCallError(
                    f"Cannot reach Bedrock for {self.spec.name} ({exc}). Check the network (or that the "
                    "local model server is running)."
                ) from exc


def _is_busy(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code", "") in _BUSY or status == 429


def converse_messages(prompt: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """System text and Converse messages from a chat message list. Converse wants a conversation
    that starts with the user and alternates: consecutive messages of one role are joined, and
    assistant messages before the first user message are left out. An assistant message's
    `tool_calls` become toolUse blocks; `tool` messages become the next user turn's toolResults."""
    system = "\n\n".join(m["content"] for m in prompt if m["role"] == "system" and m["content"])
    messages: list[dict[str, Any]] = []
    for message in prompt:
        if message["role"] == "system":
            continue
        role, blocks = _converse_blocks(message)
        if not blocks:
            continue
        if messages and messages[-1]["role"] == role:
            last = messages[-1]["content"]
            if "text" in last[-1] and "text" in blocks[0]:
                last[-1] = {"text": last[-1]["text"] + "\n\n" + blocks[0]["text"]}
                blocks = blocks[1:]
            last.extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})
    while messages and messages[0]["role"] != "user":
        messages.pop(0)  # an answer to nothing we have: Converse refuses a conversation opened by it
    return system, messages


def _converse_blocks(message: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    if message["role"] == "tool":
        result = {"toolUseId": message["tool_call_id"], "content": [{"text": message.get("content") or ""}]}
        if message.get("is_error"):
            result["status"] = "error"
        return "user", [{"toolResult": result}]
    blocks: list[dict[str, Any]] = [{"text": message["content"]}] if message.get("content") else []
    # Attached images (issue 23): {"format": "png", "bytes": b"..."} each, before the text.
    images = [
        {"image": {"format": i["format"], "source": {"bytes": i["bytes"]}}}
        for i in message.get("images") or []
    ]
    blocks = images + blocks
    for call in message.get("tool_calls") or []:
        blocks.append(
            {"toolUse": {"toolUseId": call["id"], "name": call["name"], "input": call["arguments"]}}
        )
    return message["role"], blocks


def tool_config(tools: ToolRequest) -> dict[str, Any]:
    """Converse's toolConfig for these tools and this choice."""
    config: dict[str, Any] = {
        "tools": [
            {
                "toolSpec": {
                    "name": tool.name,
                    **({"description": tool.description} if tool.description else {}),
                    "inputSchema": {"json": tool.parameters},
                }
            }
            for tool in tools.tools
        ]
    }
    choice = tools.choice
    if choice.mode == "any":
        config["toolChoice"] = {"any": {}}
    elif choice.mode == "tool":
        config["toolChoice"] = {"tool": {"name": choice.name}}
    else:
        config["toolChoice"] = {"auto": {}}
    return config


class _StreamedCalls:
    """toolUse blocks as ConverseStream sends them: a start naming the call, input in pieces of a
    JSON string, a stop; each whole call becomes one ToolCallEvent."""

    def __init__(self) -> None:
        self._open: dict[int, tuple[str, str, list[str]]] = {}

    def start(self, event: dict[str, Any]) -> None:
        if use := event.get("start", {}).get("toolUse"):
            self._open[event.get("contentBlockIndex", 0)] = (use["toolUseId"], use["name"], [])

    def add(self, event: dict[str, Any], delta: dict[str, Any]) -> None:
        if (index := event.get("contentBlockIndex", 0)) in self._open:
            self._open[index][2].append(delta.get("input", ""))

    def stop(self, event: dict[str, Any]) -> ToolCallEvent | None:
        opened = self._open.pop(event.get("contentBlockIndex", 0), None)
        if opened is None:
            return None
        call_id, name, pieces = opened
        try:
            arguments = json.loads("".join(pieces) or "{}")
        except json.JSONDecodeError as exc:
            raise ModelStreamError(f"The model's call of {name} was not valid JSON ({exc}).") from None
        return ToolCallEvent(
            id=call_id, name=name, arguments=arguments if isinstance(arguments, dict) else {}
        )


def _final_chunk(finish: str | None, metadata: dict[str, Any]) -> ParsedChunk:
    usage = metadata.get("usage", {})
    return ParsedChunk(
        finish_reason=finish,
        prompt_tokens=usage.get("inputTokens"),
        completion_tokens=usage.get("outputTokens"),
        latency_ms=metadata.get("metrics", {}).get("latencyMs"),
    )


def _from_client_error(spec: ModelSpec, exc: ClientError) -> ChatbotError:
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", str(exc))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    model_id = spec.deployment.model_id
    if code in _BUSY or status == 429:
        return ModelThrottledError(f"{spec.name} is busy right now ({message}). Try again in a moment.")
    if code == "ValidationException":
        lowered = message.lower()
        if "too long" in lowered or "too many tokens" in lowered or "context" in lowered:
            return PromptTooLongError(
                f"The conversation is too long for {spec.name}: {message} Start a new conversation "
                "or ask for fewer new tokens."
            )
        if "model identifier is invalid" in lowered:
            return ModelCallError(
                f"Bedrock does not know the model id {model_id!r} of {spec.name}: {message} "
                "Check deployment.model_id (a model id or an inference-profile id of this region)."
            )
        return ParameterError(f"{spec.name} refused the request: {message}")
    if code == "AccessDeniedException":
        return ModelCallError(
            f"No access to {model_id!r} for {spec.name}: {message} Enable the model in the Bedrock "
            "console (Model access) and check that the caller may invoke it."
        )
    if code == "ResourceNotFoundException":
        return ModelCallError(
            f"Bedrock has no model {model_id!r} for {spec.name}: {message} Check deployment.model_id."
        )
    return ModelCallError(f"Calling {spec.name} on Bedrock failed ({code}): {message}")


def _from_stream_error(spec: ModelSpec, exc: EventStreamError) -> ChatbotError:
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message") or str(exc)
    if code in _BUSY:
        return ModelThrottledError(
            f"{spec.name} became busy part-way ({message}). The partial answer was kept; try again shortly."
        )
    return ModelStreamError(f"{spec.name}'s stream failed part-way ({code}): {message}")
