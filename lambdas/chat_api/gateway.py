"""The OpenAI-compatible gateway: `GET /v1/models` and `POST /v1/chat/completions`.

Any OpenAI client (the `openai` package, Open WebUI, LangChain...) can use any chat model of
the catalog, whatever serves it. The caller is a signed-in user's bearer token, as everywhere in
the API, or one of the user's API keys (`Authorization: Bearer sk-chatbot-...`): what a key
does is its owner's, and its use is counted on it.

- `stream: true` answers server-sent events of `chat.completion.chunk`s ending with
  `data: [DONE]`; with `stream_options.include_usage` a last chunk carries `usage`. Closing the
  connection stops the model decoding. A failure part-way is a `data: {"error": ...}` event.
- `stream: false` answers one `chat.completion` with `usage`. An answer that takes longer than
  the heartbeat interval (15 s) arrives as a 200 whose body starts with newlines, one per
  interval, then the JSON: CloudFront ends a response after 60 s without a byte (a 504), and
  whitespace before a JSON value is valid JSON. A failure after the first newline arrives as
  OpenAI's error body in that 200.
- Calls are not saved as conversations unless the request sets `"store": true`.
- Every error is OpenAI's `{"error": {"message", "type", "param", "code"}}`, with its status:
  400 for a bad request, 401 for a wrong key or token, 404 for an unknown model, 429 when the
  model is busy, 502 when it fails.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from chatbot.chat.api_keys import ApiKey
from chatbot.chat.completions import CompletionMessage, CompletionRequest
from chatbot.chat.pipeline import Admission
from chatbot.errors import ChatbotError, InvalidRequestError, UnknownModelError, http_status_of
from chatbot.models.events import DoneEvent, ErrorEvent, Event, EventStream, TokenEvent, ToolCallEvent
from chatbot.policy.model_access import ModelAccessAdmission
from chatbot.policy.quotas import QuotaExceededError, RateLimitedError
from chatbot.tools.completions import ToolCompletions
from lambdas.chat_api.auth import AuthError, api_key_record, presented_api_key
from lambdas.chat_api.auth import Caller as AuthCaller
from lambdas.chat_api.dependencies import Service, current_caller, model_server_answers
from lambdas.chat_api.model_routes import access_for
from lambdas.chat_api.openai_schema import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    CompletionUsage,
    Delta,
    ErrorBody,
    ErrorDetail,
    ModelCard,
    ModelList,
    ToolCall,
    ToolCallDelta,
    finish_reason,
)
from lambdas.chat_api.quota_routes import quota_for
from lambdas.chat_api.streaming import Leases, admitted, relay
from lambdas.chat_api.warm_up import models_ready

#: Seconds between the newlines of a non-streamed answer still being generated (settings
#: `gateway_heartbeat_s`): well under CloudFront's 60 s origin read timeout.
HEARTBEAT_S = 15.0
#: Our error codes under OpenAI's names for the same thing.
_OPENAI_CODES = {AuthError.code: "invalid_api_key", UnknownModelError.code: "model_not_found"}
_OPENAI_TYPES = {401: "invalid_request_error", 403: "permission_error", 429: "rate_limit_error"}


#: Refusals by a quota under OpenAI's names: a spent budget, a rate.
_OPENAI_QUOTA_TYPES = {
    QuotaExceededError.code: QuotaExceededError.openai_type,
    RateLimitedError.code: RateLimitedError.openai_type,
}


def _openai_status(status: int) -> int:
    return 400 if status in (413, 422) else status  # OpenAI answers 400 for any bad request


def _error_body(status: int, message: str, code: str | None, param: str | None = None) -> ErrorBody:
    error_type = _OPENAI_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    if quota_type := _OPENAI_QUOTA_TYPES.get(code or ""):
        error_type = code = quota_type
    code = _OPENAI_CODES.get(code or "", code)
    return ErrorBody(error=ErrorDetail(message=message, type=error_type, param=param, code=code))


def openai_error(status: int, message: str, code: str | None, param: str | None = None) -> JSONResponse:
    status = _openai_status(status)
    return JSONResponse(_error_body(status, message, code, param).model_dump(), status_code=status)


def _from_chatbot_error(exc: ChatbotError) -> JSONResponse:
    # A quota's refusal names the limit in `param` (its message says what remains and when).
    response = openai_error(exc.http_status, str(exc), exc.code, getattr(exc, "limit", None))
    if (retry_after := getattr(exc, "retry_after_s", None)) is not None:
        response.headers["Retry-After"] = str(retry_after)  # a quota, a model warming up, the database waking
    return response


class OpenAIErrorRoute(APIRoute):
    """Errors of these routes (auth and validation included) in OpenAI's shape, not the app's."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ChatbotError as exc:
                return _from_chatbot_error(exc)
            except RequestValidationError as exc:
                first = exc.errors()[0]
                param = ".".join(str(part) for part in first["loc"] if part != "body") or None
                return openai_error(400, f"{param or 'body'}: {first['msg']}", "invalid_request", param)

        return route


router = APIRouter(prefix="/v1", route_class=OpenAIErrorRoute, tags=["OpenAI-compatible gateway"])


@dataclass(frozen=True)
class GatewayCaller:
    user_id: str
    #: The API key the call came with; None for a sign-in token.
    key: ApiKey | None = None


async def gateway_caller(request: Request) -> GatewayCaller:
    """An API key's owner, or the signed-in user of a bearer token."""
    store = request.app.state.service.store
    if (key := presented_api_key(request.headers)) is not None:
        record = await run_in_threadpool(api_key_record, key, store.find_api_key)
        # A key is its owner's: it works only while their account stands, and only if it was
        # made after the account (not by a removed user whose name was given to someone new).
        owner = AuthCaller(record.user_id, key_created_at=record.created_at.timestamp())
        await run_in_threadpool(request.app.state.accounts.check, owner)
        return GatewayCaller(record.user_id, record)
    return GatewayCaller((await run_in_threadpool(current_caller, request)).user_id)


Caller = Annotated[GatewayCaller, Depends(gateway_caller)]


def _access(request: Request, caller: GatewayCaller) -> ModelAccessAdmission:
    return access_for(request, caller.user_id, caller.key.id if caller.key else None)


def gateway_access(request: Request, caller: Caller) -> ModelAccessAdmission:
    """The caller's model check, as a dependency (the warm-up asks it before any model)."""
    return _access(request, caller)


async def _cards(request: Request, caller: GatewayCaller) -> list[ModelCard]:
    """The chat models the caller may use (issue 21: the others are not listed)."""
    access = await run_in_threadpool(_access, request, caller)
    catalog = request.app.state.catalog
    usable = await run_in_threadpool(
        lambda: [spec.name for spec in catalog if spec.task == "chat" and access.allows(spec.name)]
    )
    return [ModelCard(id=name) for name in usable]


@router.get("/models")
async def list_models(request: Request, caller: Caller) -> ModelList:
    return ModelList(data=await _cards(request, caller))


@router.get("/models/{model_id}")
async def get_model(request: Request, model_id: str, caller: Caller) -> ModelCard:
    cards = await _cards(request, caller)
    card = next((card for card in cards if card.id == model_id), None)
    if card is None:
        raise UnknownModelError(model_id, [card.id for card in cards])
    return card


@router.post(
    "/chat/completions",
    response_model=None,
    dependencies=[Depends(model_server_answers), Depends(models_ready(gateway_caller, gateway_access))],
)
async def chat_completions(
    request: Request, body: ChatCompletionRequest, caller: Caller, service: Service, leases: Leases
) -> Response | ChatCompletion:
    cancelled = threading.Event()
    quota = await run_in_threadpool(quota_for, request, caller.user_id, caller.key.id if caller.key else None)
    access = await run_in_threadpool(_access, request, caller)
    if body.tools or any(m.role == "tool" or m.tool_calls for m in body.messages):
        events = await _tool_completion(body, caller, service, leases, cancelled, quota, access)
    else:
        events = await _completion_events(body, caller, service, leases, cancelled, quota, access)
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        chunks = _sse(relay(events, cancelled), body.model, include_usage)
        return StreamingResponse(
            chunks, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    answer = asyncio.create_task(_whole(request, relay(events, cancelled), cancelled))
    heartbeat_s = getattr(request.app.state, "gateway_heartbeat_s", HEARTBEAT_S)
    if (await asyncio.wait({answer}, timeout=heartbeat_s))[0]:
        return _completion(answer.result(), body.model)  # quick: a plain response, its own status
    return StreamingResponse(
        _heartbeats_then(answer, body.model, heartbeat_s, cancelled),
        media_type="application/json",
        headers={"Cache-Control": "no-cache"},
    )


async def _tool_completion(
    body: ChatCompletionRequest,
    caller: GatewayCaller,
    service: Service,
    leases: Leases,
    cancelled: threading.Event,
    quota: Admission | None,
    access: Admission,
) -> EventStream:
    """A request with tools, or with earlier tool calls and results (chatbot/tools/completions.py)."""
    if any(m.images for m in body.messages):
        raise InvalidRequestError("Images and tools cannot go in one request here: send one or the other.")
    try:
        tools = body.tool_request()
    except ValueError as exc:
        raise InvalidRequestError(f"tool_choice: {exc}") from None
    completions = ToolCompletions(service.endpoint, service.store, service.turns.pipeline)
    return await admitted(
        leases,
        completions.start,
        caller.user_id,
        body.model,
        body.prompt_messages(),
        body.parameters(),
        tools,
        key=caller.key,
        cancelled=cancelled,
        quota=quota,
        access=access,
    )


async def _completion_events(
    body: ChatCompletionRequest,
    caller: GatewayCaller,
    service: Service,
    leases: Leases,
    cancelled: threading.Event,
    quota: Admission | None,
    access: Admission,
) -> EventStream:
    if any(m.images for m in body.messages[:-1]):
        raise InvalidRequestError("Only the last message may carry images: send earlier ones as text.")
    completion_request = CompletionRequest(
        model=body.model,
        messages=[
            CompletionMessage(role="system" if m.role == "developer" else m.role, content=m.text)
            for m in body.messages
        ],
        parameters=body.parameters(),
        save=body.store,
        images=body.messages[-1].images,
    )
    return await admitted(
        leases,
        service.completions().start,
        caller.user_id,
        completion_request,
        key=caller.key,
        cancelled=cancelled,
        quota=quota,
        access=access,
    )


async def _heartbeats_then(
    answer: asyncio.Task[list[Event]], model: str, heartbeat_s: float, cancelled: threading.Event
) -> AsyncIterator[bytes | memoryview]:
    """Newlines while the answer is generated (bytes that keep CloudFront's origin read timeout
    from firing), then the completion, or OpenAI's error body, as JSON."""
    try:
        yield b"\n"
        while not (await asyncio.wait({answer}, timeout=heartbeat_s))[0]:
            yield b"\n"
        result = _completion(answer.result(), model)
        yield result.body if isinstance(result, Response) else result.model_dump_json().encode()
    finally:
        if not answer.done():  # the caller left: stop the decoding
            cancelled.set()
            answer.cancel()


async def _whole(request: Request, events: AsyncIterator[Event], cancelled: threading.Event) -> list[Event]:
    """Every event of an answer sent whole. A caller who goes away before it is done (a client
    timeout, a closed connection) stops the decoding, as closing a stream does."""

    async def stop_when_gone() -> None:
        # The body is read: the next ASGI message is the disconnect, whenever it comes (as
        # Starlette's StreamingResponse listens for it; Request.is_disconnected only peeks).
        while (await request.receive())["type"] != "http.disconnect":
            pass
        cancelled.set()

    watcher = asyncio.create_task(stop_when_gone())
    try:
        return [event async for event in events]
    finally:
        watcher.cancel()


def _completion(events: list[Event], model: str) -> Response | ChatCompletion:
    text = "".join(event.text for event in events if isinstance(event, TokenEvent))
    calls = [ToolCall.of(event) for event in events if isinstance(event, ToolCallEvent)]
    for event in events:
        if isinstance(event, ErrorEvent):
            return openai_error(http_status_of(event.code), event.message, event.code)
        if isinstance(event, DoneEvent):
            return ChatCompletion(
                model=model,
                choices=[
                    Choice(
                        message=AssistantMessage(
                            content=text if text or not calls else None, tool_calls=calls or None
                        ),
                        finish_reason=finish_reason(event.finish_reason),
                    )
                ],
                usage=CompletionUsage.of(event.usage.prompt_tokens or 0, event.usage.completion_tokens or 0),
            )
    return openai_error(502, "The model ended without an answer. Try again.", "model_error")


def _data(payload: BaseModel) -> bytes:
    return b"data: " + payload.model_dump_json(exclude_none=True).encode() + b"\n\n"


async def _sse(events: AsyncIterator[Event], model: str, include_usage: bool) -> AsyncIterator[bytes]:
    first = ChatCompletionChunk(model=model, choices=[ChunkChoice(delta=Delta(role="assistant", content=""))])
    chunk = first.model_copy  # every chunk shares the first one's id and time
    yield _data(first)
    calls = 0
    async for event in events:
        if isinstance(event, ToolCallEvent):
            call = ToolCall.of(event)
            delta = ToolCallDelta(index=calls, id=call.id, type="function", function=call.function)
            calls += 1
            yield _data(chunk(update={"choices": [ChunkChoice(delta=Delta(tool_calls=[delta]))]}))
        elif isinstance(event, TokenEvent):
            yield _data(chunk(update={"choices": [ChunkChoice(delta=Delta(content=event.text))]}))
        elif isinstance(event, ErrorEvent):
            status = _openai_status(http_status_of(event.code))
            yield _data(_error_body(status, event.message, event.code))
        elif isinstance(event, DoneEvent):
            last = ChunkChoice(delta=Delta(), finish_reason=finish_reason(event.finish_reason))
            yield _data(chunk(update={"choices": [last]}))
            if include_usage:
                usage = CompletionUsage.of(event.usage.prompt_tokens or 0, event.usage.completion_tokens or 0)
                yield _data(chunk(update={"choices": [], "usage": usage}))
    yield b"data: [DONE]\n\n"
