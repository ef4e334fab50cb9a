"""The Bedrock Runtime Converse API over the served models, so boto3's real `bedrock-runtime`
client (and anything built on it, such as langchain-aws's ChatBedrockConverse) works against
the local model server with `endpoint_url` set.

- `POST /model/{modelId}/converse`: one JSON answer (output.message, stopReason, usage, metrics);
- `POST /model/{modelId}/converse-stream`: an AWS event stream of messageStart,
  contentBlockDelta..., contentBlockStop, messageStop and metadata; a failure part-way is an
  exception frame (`modelStreamErrorException`).

A model is named by its ModelSpec name (its endpoint name here). Its prompt is its adapter's
rendering of the Converse messages, and its adapter's stop words end the answer without
showing up in it. Errors are Bedrock's: ValidationException (400) for a request Bedrock would
refuse, ThrottlingException (429) when the queue is full, ModelErrorException (424) when
generation fails. Closing the stream stops decoding, as everywhere else.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatbot.models.adapters import Adapter, Turn, adapter_for
from chatbot.models.stop_words import StopWordFilter
from inference import tools
from inference.aws_errors import aws_error
from inference.engine import Finished, Job, QueueFullError, SamplingSettings
from inference.eventstream import encode_frame

if TYPE_CHECKING:
    from chatbot.models.spec import ModelSpec
    from inference.app import ServedModel

_STOP_REASONS = {"eos_token": "end_turn", "length": "max_tokens", "stop_sequence": "end_turn"}


class ConverseValidationError(Exception):
    """A request Bedrock refuses with ValidationException; the message says what to change."""


class InferenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    max_tokens: int | None = Field(None, alias="maxTokens", ge=1)
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, alias="topP", ge=0, le=1)
    stop_sequences: list[str] = Field(default_factory=list, alias="stopSequences", max_length=4)


class ModelFields(BaseModel):
    """additionalModelRequestFields this server takes: the llama.cpp sampler's own knobs."""

    model_config = ConfigDict(extra="forbid")

    top_k: int | None = Field(None, ge=0)
    seed: int | None = Field(None, ge=0)
    repetition_penalty: float | None = Field(None, gt=0)


class ConverseRequest(BaseModel):
    # Other Converse fields (requestMetadata, performanceConfig...) are accepted and ignored.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    messages: list[dict[str, Any]] = Field(min_length=1)
    system: list[dict[str, Any]] = Field(default_factory=list)
    inference_config: InferenceConfig = Field(default_factory=InferenceConfig, alias="inferenceConfig")
    request_fields: ModelFields = Field(default_factory=ModelFields, alias="additionalModelRequestFields")
    tool_config: dict[str, Any] | None = Field(None, alias="toolConfig")


@dataclass(frozen=True)
class PreparedTurn:
    """A validated request, ready for the engine."""

    prompt_tokens: list[int]
    settings: SamplingSettings
    #: The adapter's stop words and the caller's stop sequences: they end the answer unseen.
    stop_words: list[str]
    caller_stop_sequences: list[str]
    #: The request's tools (None without toolConfig): the answer may be a toolUse block.
    tools: tools.ToolSetup | None = None


def _text_of(blocks: Sequence[dict[str, Any]], where: str, call_names: dict[str, str] | None = None) -> str:
    if not blocks:
        raise ConverseValidationError(f"{where} has no content blocks. Send at least one text block.")
    if any(not isinstance(block, dict) for block in blocks):
        raise ConverseValidationError(f"{where}: each content block must be an object.")
    try:  # text, and the toolUse / toolResult blocks of a tool loop (inference/tools.py)
        return "".join(
            tools.converse_block_text(block, {} if call_names is None else call_names, where)
            for block in blocks
        )
    except tools.ToolRequestError as exc:
        raise ConverseValidationError(str(exc)) from None


def _conversation(request: ConverseRequest) -> tuple[list[Turn], str]:
    """Earlier turns and the new user message, under Bedrock's rules for a conversation."""
    turns: list[Turn] = []
    call_names: dict[str, str] = {}
    for index, message in enumerate(request.messages):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise ConverseValidationError(f"messages[{index}].role must be 'user' or 'assistant'.")
        expected = "user" if index % 2 == 0 else "assistant"
        if role != expected:
            raise ConverseValidationError(
                "A conversation must start with a user message and alternate between user and "
                "assistant roles. Make sure the conversation alternates and try again."
            )
        content = _text_of(message.get("content") or [], f"messages[{index}]", call_names)
        turns.append(Turn(role=role, content=content))
    if turns[-1].role != "user":
        raise ConverseValidationError(
            "The last message must be the user's. Add a user message and try again."
        )
    return turns[:-1], turns[-1].content


def prepare(model: ServedModel, body: bytes) -> PreparedTurn:
    """Validate a Converse body and render the model's prompt; raises ConverseValidationError."""
    try:
        request = ConverseRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ConverseValidationError(f"1 validation error detected: {where}: {first['msg']}") from None
    spec, adapter = model.spec, adapter_for(model.spec.model_id, model.spec.adapter)
    tool_setup = _tool_setup(spec, request.tool_config)
    history, message = _conversation(request)
    system = "\n\n".join(_text_of([block], "system") for block in request.system) or adapter.system_prompt
    if tool_setup is not None:
        system = tools.system_text(tool_setup, system)
    prompt = adapter.render(system, history, message)
    if not isinstance(prompt, str):
        raise ConverseValidationError(
            f"{spec.name} is served from a text prompt; its adapter writes messages."
        )
    config, fields, defaults = request.inference_config, request.request_fields, spec.default_parameters
    max_tokens = config.max_tokens or defaults.max_new_tokens
    if max_tokens > spec.max_new_tokens_limit:
        raise ConverseValidationError(
            f"The maximum tokens you requested exceeds the model limit of {spec.max_new_tokens_limit}. "
            "Try again with a maximum tokens value that is lower."
        )
    prompt_tokens = model.engine.tokenize(prompt)
    if len(prompt_tokens) + max_tokens > spec.context_window:
        raise ConverseValidationError(
            f"Input is too long for requested model: {len(prompt_tokens)} input tokens and {max_tokens} "
            f"maxTokens are more than its {spec.context_window}-token context window."
        )
    temperature = defaults.temperature if config.temperature is None else config.temperature
    stop_words = _stop_words(adapter, config.stop_sequences)
    settings = SamplingSettings(
        max_new_tokens=max_tokens,
        temperature=temperature or None,  # 0 decodes greedily
        top_p=(defaults.top_p if config.top_p is None else config.top_p) or 1.0,
        top_k=defaults.top_k if fields.top_k is None else fields.top_k,
        repetition_penalty=fields.repetition_penalty or defaults.repetition_penalty,
        stop=tuple(stop_words),
        seed=fields.seed if fields.seed is not None else defaults.seed,
        grammar=tool_setup.grammar if tool_setup else None,
    )
    return PreparedTurn(
        prompt_tokens=prompt_tokens,
        settings=settings,
        stop_words=stop_words,
        caller_stop_sequences=[word for word in config.stop_sequences if word],
        tools=tool_setup,
    )


def _tool_setup(spec: ModelSpec, tool_config: dict[str, Any] | None) -> tools.ToolSetup | None:
    if tool_config is None:
        return None
    if not spec.tools:
        raise ConverseValidationError("This model doesn't support tool use.")
    try:
        return tools.setup(*tools.from_converse(tool_config))
    except tools.ToolRequestError as exc:
        raise ConverseValidationError(str(exc)) from None


def _stop_words(adapter: Adapter, stop_sequences: list[str]) -> list[str]:
    return list(dict.fromkeys(word for word in [*adapter.stop_words(), *stop_sequences] if word))


def _stop_reason(finished: Finished, turn: PreparedTurn) -> str:
    if any(word in finished.generated_text for word in turn.caller_stop_sequences):
        return "stop_sequence"
    return _STOP_REASONS.get(finished.reason, "end_turn")


def _metadata(turn: PreparedTurn, finished: Finished, started: float) -> dict[str, Any]:
    output = finished.generated_tokens
    return {
        "usage": {
            "inputTokens": len(turn.prompt_tokens),
            "outputTokens": output,
            "totalTokens": len(turn.prompt_tokens) + output,
        },
        "metrics": {"latencyMs": round((time.perf_counter() - started) * 1000)},
    }


def event_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_frame(headers, json.dumps(payload, ensure_ascii=False).encode())


def exception_frame(exception_type: str, message: str) -> bytes:
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_frame(headers, json.dumps({"message": message}).encode())


async def _answer(job: Job, turn: PreparedTurn) -> AsyncIterator[str | Finished]:
    """Visible text as it is decoded (stop words held back), then the Finished."""
    stop_filter = StopWordFilter(turn.stop_words)
    try:
        async for item in job.events():
            finished = item if isinstance(item, Finished) else item.finished
            if not isinstance(item, Finished) and not item.special and (text := stop_filter.feed(item.text)):
                yield text
            if finished is not None:
                if finished.reason not in ("error", "cancelled") and (rest := stop_filter.flush()):
                    yield rest
                yield finished
                return
    finally:
        job.cancel()  # a no-op once finished; stops decoding when the client went away


def _tool_use(call: tools.ToolCall) -> dict[str, Any]:
    return {"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}}


def _tool_call_of(text: str, turn: PreparedTurn) -> tools.ToolCall | None:
    return tools.parse_call(text, turn.tools) if turn.tools is not None else None


async def _stream_frames(job: Job, turn: PreparedTurn, started: float) -> AsyncIterator[bytes]:
    yield event_frame("messageStart", {"role": "assistant"})
    if turn.tools is not None:  # the answer is a call or text: known once it is whole
        async for frame in _stream_tool_frames(job, turn, started):
            yield frame
        return
    async for item in _answer(job, turn):
        if isinstance(item, str):
            yield event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": item}})
        elif item.reason == "error":
            yield exception_frame("modelStreamErrorException", f"The model failed part-way: {item.error}")
        elif item.reason != "cancelled":
            yield event_frame("contentBlockStop", {"contentBlockIndex": 0})
            yield event_frame("messageStop", {"stopReason": _stop_reason(item, turn)})
            yield event_frame("metadata", _metadata(turn, item, started))


async def _stream_tool_frames(job: Job, turn: PreparedTurn, started: float) -> AsyncIterator[bytes]:
    text: list[str] = []
    async for item in _answer(job, turn):
        if isinstance(item, str):
            text.append(item)
        elif item.reason == "error":
            yield exception_frame("modelStreamErrorException", f"The model failed part-way: {item.error}")
        elif item.reason != "cancelled":
            whole = "".join(text)
            if call := _tool_call_of(whole, turn):
                start = {"toolUse": {"toolUseId": call.id, "name": call.name}}
                yield event_frame("contentBlockStart", {"contentBlockIndex": 0, "start": start})
                delta = {"toolUse": {"input": json.dumps(call.arguments, ensure_ascii=False)}}
                yield event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": delta})
            elif whole:
                yield event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": whole}})
            yield event_frame("contentBlockStop", {"contentBlockIndex": 0})
            stop_reason = "tool_use" if call else _stop_reason(item, turn)
            yield event_frame("messageStop", {"stopReason": stop_reason})
            yield event_frame("metadata", _metadata(turn, item, started))


async def _complete(job: Job, turn: PreparedTurn, started: float) -> Response:
    text: list[str] = []
    async for item in _answer(job, turn):
        if isinstance(item, str):
            text.append(item)
        elif item.reason == "error":
            return aws_error(424, "ModelErrorException", f"The model failed: {item.error}")
        else:
            call = _tool_call_of("".join(text), turn)
            content = [_tool_use(call)] if call else [{"text": "".join(text)}]
            body = {
                "output": {"message": {"role": "assistant", "content": content}},
                "stopReason": "tool_use" if call else _stop_reason(item, turn),
                **_metadata(turn, item, started),
            }
            return JSONResponse(body)
    return aws_error(500, "InternalServerException", "The answer ended without finishing. Try again.")


def router(models: dict[str, ServedModel]) -> APIRouter:
    """The Converse routes over `models` (keyed by endpoint name, which is also the model's id here)."""
    routes = APIRouter()

    async def start(model_id: str, request: Request) -> tuple[Job, PreparedTurn, float] | Response:
        started = time.perf_counter()
        model = models.get(model_id) or next((m for m in models.values() if m.spec.name == model_id), None)
        if model is None:
            return aws_error(
                400,
                "ValidationException",
                f"The provided model identifier is invalid: {model_id!r}. This server serves: "
                f"{', '.join(sorted(models))}.",
            )
        try:
            turn = prepare(model, await request.body())
            return model.engine.submit(turn.prompt_tokens, turn.settings), turn, started
        except ConverseValidationError as exc:
            return aws_error(400, "ValidationException", str(exc))
        except QueueFullError as exc:
            return aws_error(429, "ThrottlingException", str(exc))

    @routes.post("/model/{model_id}/converse")
    async def converse(model_id: str, request: Request) -> Response:
        begun = await start(model_id, request)
        return begun if isinstance(begun, Response) else await _complete(*begun)

    @routes.post("/model/{model_id}/converse-stream")
    async def converse_stream(model_id: str, request: Request) -> Response:
        begun = await start(model_id, request)
        if isinstance(begun, Response):
            return begun
        return StreamingResponse(_stream_frames(*begun), media_type="application/vnd.amazon.eventstream")

    return routes
