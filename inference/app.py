"""HTTP front of the model server.

Two faces over one handler:
- the SageMaker container contract (`GET /ping`, `POST /invocations`), so the same server
  runs as a CPU inference container in AWS;
- the SageMaker Runtime API (`POST /endpoints/{name}/invocations[-response-stream]`), so
  boto3's real `sagemaker-runtime` client works against it with `endpoint_url` set;
- and, from inference/bedrock.py, the Bedrock Runtime Converse API
  (`POST /model/{modelId}/converse[-stream]`) for boto3's `bedrock-runtime` client.

The runtime routes wrap the container handler the way SageMaker wraps a container: a
container error becomes a `ModelError` (424) that boto3 raises as ClientError, and a
streamed answer is framed as `PayloadPart` events.

Only programs call it, never a web page: a page on any site can make the browser POST here
(a `text/plain` or typeless POST needs no CORS preflight), so a request that names a foreign
`Origin` gets a 403, and a body that says it is anything but JSON gets a 415. boto3 sends no
Origin, and either `application/json` (Bedrock, and SageMaker calls that set ContentType, as the
project's endpoints do) or no Content-Type at all (SageMaker calls that leave it out).

A page can also rebind its own name to 127.0.0.1 (DNS rebinding): its requests are then
same-origin (Origin http://evil.test:8080, Host evil.test:8080). So a server bound to the
loopback answers only a Host that names the loopback or its bind address (plus any names in
INFERENCE_ALLOWED_HOSTS); boto3 sends the Host of its endpoint_url (http://127.0.0.1:PORT). A
server bound to any other address (the SageMaker container binds 0.0.0.0, and the platform sends
its own Host) checks no Host: a rebinding page can reach only what listens on the visitor's loopback.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from chatbot.models.spec import ModelSpec
from inference import bedrock, eventstream, tgi, tools
from inference.aws_errors import aws_error
from inference.engine import Finished, ModelEngine, QueueFullError


@dataclass
class ServedModel:
    spec: ModelSpec
    engine: ModelEngine


@dataclass
class Reply:
    """A complete container response."""

    status: int
    body: bytes


async def _invoke_container(model: ServedModel, body: bytes) -> Reply | AsyncIterator[bytes]:
    """What a TGI container answers for one /invocations request."""
    try:
        request = tgi.parse_request(body)
        tool_setup = _tool_setup(model, request)
        settings = request.parameters.sampling()
        if tool_setup is not None:
            settings = dataclasses.replace(settings, grammar=tool_setup.grammar)
        prompt_tokens = model.engine.tokenize(request.inputs)
        tgi.check_length(len(prompt_tokens), settings.max_new_tokens, model.spec.context_window)
        job = model.engine.submit(prompt_tokens, settings)
    except tgi.TGIValidationError as exc:
        return Reply(422, tgi.error_body(str(exc), "validation"))
    except QueueFullError as exc:
        return Reply(429, tgi.error_body(str(exc), "overloaded"))
    if request.stream:
        return _server_sent_events(job.events(), tool_setup)
    async for item in job.events():
        finished = item if isinstance(item, Finished) else item.finished
        if finished is not None and finished.reason == "error":
            return Reply(500, tgi.error_body(f"Generation failed: {finished.error}", "generation"))
        if finished is not None:
            calls = tools.openai_tool_calls(finished.generated_text, tool_setup)
            return Reply(200, tgi.complete_body(request, finished, calls))
    raise AssertionError("a job always ends with a finished event")


def _tool_setup(model: ServedModel, request: tgi.TGIRequest) -> tools.ToolSetup | None:
    """OpenAI-style tools (for models whose catalog entry takes them) or TGI's grammar."""
    if request.tools and not model.spec.tools:
        raise tgi.TGIValidationError(f"Input validation error: {model.spec.name} does not take tools.")
    try:
        return tools.from_tgi(request.tools, request.tool_choice, request.parameters.grammar)
    except tools.ToolRequestError as exc:
        raise tgi.TGIValidationError(f"Input validation error: {exc}") from None


async def _server_sent_events(
    events: AsyncIterator, tool_setup: tools.ToolSetup | None = None
) -> AsyncIterator[bytes]:
    index = 0
    async for item in events:
        if isinstance(item, Finished):  # cancelled or failed before a last token
            if item.reason == "error":
                yield tgi.stream_error_line(f"Generation failed: {item.error}")
            return
        index += 1
        calls = tools.openai_tool_calls(item.finished.generated_text, tool_setup) if item.finished else None
        yield tgi.stream_line(index, item, item.finished, calls)


async def _event_stream_frames(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield eventstream.payload_part(chunk)
    except Exception as exc:  # the container's stream broke: tell the client, as SageMaker does
        yield eventstream.model_stream_error(f"The model's response stream failed: {exc}")


def _model_error(reply: Reply) -> JSONResponse:
    if reply.status == 429:
        message = json.loads(reply.body).get("error", "The model is busy.")
        return aws_error(429, "ThrottlingException", message)
    kind = "client" if reply.status < 500 else "server"
    original = reply.body.decode("utf-8", errors="replace")
    return aws_error(
        424,
        "ModelError",
        f'Received {kind} error ({reply.status}) from primary with message "{original}".',
        OriginalStatusCode=reply.status,
        OriginalMessage=original,
    )


def _foreign_origin(request: Request) -> str | None:
    """The request's Origin when a web page of another site sent it (browsers add Origin to
    every cross-site POST); None for programs (no Origin) and for this server's own pages."""
    origin = request.headers.get("origin")
    if origin is None or urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower():
        return None
    return origin


#: Names that mean this machine, whatever port follows them.
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Whether a bind address or host name is this machine's loopback (127.0.0.0/8, ::1, localhost)."""
    host = host.strip("[]").lower()
    return host in LOOPBACK_NAMES or host.startswith("127.")


def allowed_hosts(bind_host: str, extra: str = "") -> frozenset[str] | None:
    """The Host names a server bound to `bind_host` answers: None (any) unless it is bound to the
    loopback; `extra` is a comma-separated list of more names (INFERENCE_ALLOWED_HOSTS)."""
    if not is_loopback(bind_host):
        return None
    more = {name.strip().strip("[]").lower() for name in extra.split(",") if name.strip()}
    return LOOPBACK_NAMES | {bind_host.strip("[]").lower()} | more


def _host_name(host_header: str) -> str:
    """The name of a Host header, without its port: "[::1]:8080" -> "::1", "a.test:80" -> "a.test"."""
    return (urlsplit(f"//{host_header}").hostname or "").lower()


def _not_json(request: Request) -> str | None:
    """The Content-Type of a POST whose body says it is not JSON; None when it is, or says nothing."""
    content_type = request.headers.get("content-type")
    if request.method != "POST" or content_type is None:
        return None
    media_type = content_type.split(";", 1)[0].strip().lower()
    return None if media_type == "application/json" else content_type


def create_app(models: dict[str, ServedModel], *, hosts: frozenset[str] | None = None) -> FastAPI:
    """`models` is keyed by endpoint name; `hosts`, the Host names answered (None: any; see
    `allowed_hosts`)."""
    app = FastAPI(title="SageMaker- and Bedrock-compatible llama.cpp model server")
    app.include_router(bedrock.router(models))

    @app.middleware("http")
    async def refuse_web_pages(request: Request, call_next):
        if hosts is not None and (name := _host_name(request.headers.get("host", ""))) not in hosts:
            return aws_error(
                403,
                "AccessDeniedException",
                f"This model server answers requests to {', '.join(sorted(hosts))}, not to {name!r} "
                "(a name pointed at this machine by someone else). Call it as http://127.0.0.1:PORT, "
                "or add the name to INFERENCE_ALLOWED_HOSTS.",
            )
        if origin := _foreign_origin(request):
            return aws_error(
                403,
                "AccessDeniedException",
                f"The model server answers programs, not web pages: requests from {origin} are refused.",
            )
        if content_type := _not_json(request):
            return aws_error(
                415,
                "UnsupportedMediaTypeException",
                f"Send the body as JSON (Content-Type: application/json), not {content_type}.",
            )
        return await call_next(request)

    def find(endpoint_name: str) -> ServedModel | JSONResponse:
        if endpoint_name in models:
            return models[endpoint_name]
        return aws_error(
            400,
            "ValidationError",
            f"Endpoint {endpoint_name} not found. This server serves: {', '.join(sorted(models))}.",
        )

    @app.get("/ping")
    async def ping() -> Response:
        return Response(status_code=200)

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        target = request.headers.get("X-Amzn-SageMaker-Target-Model")
        if target is None and len(models) == 1:
            target = next(iter(models))
        model = models.get(target or "")
        if model is None:
            message = f"Name the model in the X-Amzn-SageMaker-Target-Model header: one of {sorted(models)}."
            return Response(tgi.error_body(message, "validation"), 400, media_type="application/json")
        result = await _invoke_container(model, await request.body())
        if isinstance(result, Reply):
            return Response(result.body, result.status, media_type="application/json")
        return StreamingResponse(result, media_type="text/event-stream")

    @app.post("/endpoints/{endpoint_name}/invocations")
    async def invoke_endpoint(endpoint_name: str, request: Request) -> Response:
        model = find(endpoint_name)
        if isinstance(model, JSONResponse):
            return model
        result = await _invoke_container(model, await request.body())
        if not isinstance(result, Reply):  # a streaming body asked of the blocking API: collect it
            result = Reply(200, b"".join([chunk async for chunk in result]))
        if result.status >= 400:
            return _model_error(result)
        headers = {"x-Amzn-Invoked-Production-Variant": "AllTraffic"}
        return Response(result.body, 200, media_type="application/json", headers=headers)

    @app.post("/endpoints/{endpoint_name}/invocations-response-stream")
    async def invoke_endpoint_stream(endpoint_name: str, request: Request) -> Response:
        model = find(endpoint_name)
        if isinstance(model, JSONResponse):
            return model
        result = await _invoke_container(model, await request.body())
        if isinstance(result, Reply):
            if result.status >= 400:
                return _model_error(result)
            result = _single(result.body)  # a non-streaming answer arrives as one PayloadPart
        headers = {
            "X-Amzn-SageMaker-Content-Type": "text/event-stream",
            "x-Amzn-Invoked-Production-Variant": "AllTraffic",
        }
        return StreamingResponse(
            _event_stream_frames(result), media_type="application/vnd.amazon.eventstream", headers=headers
        )

    @app.get("/metrics")
    async def metrics() -> dict[str, dict[str, int | float]]:
        """Per-endpoint counters (not part of SageMaker's API; for tests and operators):
        requests by outcome, tokens, slots, and the mean and largest batch per decode step."""
        return {name: model.engine.stats.snapshot() for name, model in models.items()}

    return app


async def _single(body: bytes) -> AsyncIterator[bytes]:
    yield body
