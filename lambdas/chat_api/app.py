"""The chat API: a FastAPI app that runs unchanged under uvicorn locally and on Lambda behind
the Lambda Web Adapter in response-stream mode (see run.sh).

Streaming endpoints answer NDJSON: one event of `chatbot.models.events` per line; compare
sessions multiplex their lanes by each event's `lane`. Errors before the stream starts
are HTTP errors with `{"error": {"code", "message"}}`; errors after it starts are error events.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse

from chatbot import errors
from chatbot.api.arena import Category
from chatbot.api.catalog import Limits, ModelInfo
from chatbot.api.leaderboard import Leaderboard
from chatbot.api.records import Session, SessionPage
from chatbot.api.requests import ChatRequest, CompareRequest, RenameRequest, StopRequest, VoteRequest
from chatbot.api.sessions import Conversation, ImportResult, VoteResult
from chatbot.chat.service import BattlesImported
from chatbot.chat.transfer import ConversationsExport, ExportFormat, to_markdown
from chatbot.models.events import EventStream, event_to_json_line
from lambdas.chat_api import (
    api_key_routes,
    arena_routes,
    attachment_routes,
    documents,
    gateway,
    mcp_routes,
    model_routes,
    quota_routes,
    users,
)
from lambdas.chat_api.body_limits import BodyLimits, BodyRules
from lambdas.chat_api.dependencies import Admin, Catalog, Service, User, current_user, model_server_answers
from lambdas.chat_api.everyday_routes import router as everyday_router
from lambdas.chat_api.guards import unstorable_text_error
from lambdas.chat_api.mcp_routes import CallerDep
from lambdas.chat_api.model_routes import Access, ModelCheck, Roles, listed_models, user_access, with_preset
from lambdas.chat_api.quota_routes import Quota
from lambdas.chat_api.streaming import Leases, admitted, relay
from lambdas.chat_api.warm_up import models_ready
from lambdas.chat_api.wiring import LazyState

NDJSON = "application/x-ndjson"


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def error_response(request: Request, exc: errors.ChatbotError) -> JSONResponse:
    """An error in the shape its caller reads: OpenAI's under the gateway's /v1, the app's elsewhere
    (for checks that answer before any route, whose own handlers would pick the shape)."""
    if request.url.path.startswith(gateway.router.prefix + "/"):
        response = gateway.openai_error(exc.http_status, str(exc), exc.code)
    else:
        response = _error(exc.http_status, exc.code, str(exc), **exc.details())
    if (retry_after := getattr(exc, "retry_after_s", None)) is not None:
        response.headers["Retry-After"] = str(retry_after)  # e.g. the database waking up
    return response


def _export_response(document: ConversationsExport, format: ExportFormat, name: str) -> Response:
    if format == "markdown":
        body, media_type, suffix = to_markdown(document), "text/markdown; charset=utf-8", "md"
    else:
        body, media_type, suffix = document.model_dump_json(indent=2), "application/json", "json"
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}.{suffix}"'},
    )


async def _ndjson(events: EventStream, cancelled: threading.Event) -> AsyncIterator[bytes]:
    async for event in relay(events, cancelled):
        yield event_to_json_line(event)


def create_app() -> FastAPI:
    """The app reads its settings from the environment at start-up (lambdas/chat_api/settings.py)
    and builds each service when a request first needs it (lambdas/chat_api/wiring.py)."""
    state = LazyState()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from lambdas.chat_api.settings import ChatApiSettings
        from lambdas.chat_api.wiring import (
            build_verifier,
            max_document_bytes,
            register_services,
        )

        settings = ChatApiSettings.from_env()
        app.state.model_server_url = settings.sagemaker_endpoint_url
        app.state.gateway_heartbeat_s = settings.gateway_heartbeat_s
        app.state.users_file = settings.users_file
        app.state.shared_document_writers = settings.shared_document_writers
        app.state.max_document_bytes = max_document_bytes(settings)
        app.state.verifier = build_verifier(settings)
        # Built by the first request that needs them: nothing connects at start-up, and a cold
        # start answers GET /models without the history store, the model clients or retrieval
        # (and makes the user pool's client with the request that needs it).
        register_services(state, settings)
        app.state.body_rules = BodyRules(
            max_body_bytes=settings.max_body_bytes,
            max_upload_bytes=app.state.max_document_bytes,
            read_timeout_s=settings.body_read_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            max_attachment_bytes=int(settings.max_attachment_mb * 1024 * 1024),
        )
        yield
        if state.built("retrieval") and state.retrieval is not None:
            state.retrieval.close()

    app = FastAPI(title="Chat API", lifespan=lifespan)
    app.state = state
    app.include_router(documents.router)
    app.include_router(api_key_routes.router)
    app.include_router(gateway.router)
    app.include_router(users.router)
    app.include_router(quota_routes.router)
    app.include_router(model_routes.router)
    app.include_router(arena_routes.router)
    app.include_router(mcp_routes.router)
    app.include_router(attachment_routes.router)
    # Before the routes below: /sessions/search must not be read as /sessions/{session_id}.
    app.include_router(everyday_router)

    @app.exception_handler(errors.ChatbotError)
    async def chatbot_error(request: Request, exc: errors.ChatbotError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"] if part != "body")
        return _error(422, "invalid_request", f"{where or 'body'}: {first['msg']}")

    @app.middleware("http")
    async def refuse_unstorable_text(request: Request, call_next):
        if error := await unstorable_text_error(request):
            return error_response(request, error)
        return await call_next(request)

    # Outermost: counts every body's bytes as they arrive, before anything else reads them.
    app.add_middleware(
        BodyLimits,
        rules_of=lambda scope: getattr(scope["app"].state, "body_rules", None),
        render=error_response,
    )

    @app.get("/health")
    def health(catalog: Catalog) -> dict[str, Any]:
        return {"status": "ok", "models": len(catalog)}

    @app.get("/limits")
    def limits(request: Request, user: User, service: Service) -> Limits:
        """The limits this deployment enforces, so a client can show them (and check before sending)."""
        return Limits(
            max_message_chars=service.limits.max_message_chars,
            max_document_bytes=request.app.state.max_document_bytes,
            max_direct_upload_bytes=direct.max_bytes
            if (direct := request.app.state.direct_uploads)
            else None,
        )

    @app.get("/models")
    def models(request: Request, catalog: Catalog, roles: Roles) -> list[ModelInfo]:
        """The chat models the caller's roles may use (issue 21), the default marked."""
        usable, default = listed_models(request, roles)
        return [
            ModelInfo(
                name=spec.name,
                model_id=spec.model_id,
                task=spec.task,
                streaming=spec.streaming,
                context_window=spec.context_window,
                max_new_tokens_limit=spec.max_new_tokens_limit,
                default_parameters=spec.default_parameters.model_dump(),
                default=spec.name == default,
            )
            for spec in catalog
            if spec.name in usable  # chat models only: embedding and rerank serve retrieval
        ]

    @app.post(
        "/chat",
        dependencies=[Depends(model_server_answers), Depends(models_ready(current_user, user_access))],
    )
    async def chat(
        request: Request,
        body: ChatRequest,
        caller: CallerDep,
        service: Service,
        leases: Leases,
        quota: Quota,
        check: ModelCheck,
        access: Access,
        roles: Roles,
    ) -> StreamingResponse:
        cancelled = threading.Event()
        body = await run_in_threadpool(with_preset, body, access, roles)
        toolbox = await mcp_routes.chat_toolbox(request, caller, body)  # None: no tools chosen
        events = await admitted(
            leases,
            service.chat,
            caller.user_id,
            body,
            cancelled=cancelled,
            quota=quota,
            access=check,
            toolbox=toolbox,
        )
        return StreamingResponse(_ndjson(events, cancelled), media_type=NDJSON)

    @app.post(
        "/compare",
        dependencies=[Depends(model_server_answers), Depends(models_ready(current_user, user_access))],
    )
    async def compare(
        body: CompareRequest,
        user: User,
        service: Service,
        leases: Leases,
        quota: Quota,
        check: ModelCheck,
        access: Access,
        roles: Roles,
    ) -> StreamingResponse:
        cancelled = threading.Event()
        body = await run_in_threadpool(with_preset, body, access, roles)
        events = await admitted(
            leases, service.compare, user, body, cancelled=cancelled, quota=quota, access=check
        )
        return StreamingResponse(_ndjson(events, cancelled), media_type=NDJSON)

    @app.get("/sessions")
    async def sessions(
        user: User,
        service: Service,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: str | None = None,
    ) -> SessionPage:
        return await run_in_threadpool(service.list_sessions, user, limit=limit, cursor=cursor)

    @app.get("/sessions/export", response_model=None)
    async def export_all(
        user: User, service: Service, format: Annotated[ExportFormat, Query()] = "json"
    ) -> Response:
        """Every conversation of the user, as JSON (to import again) or Markdown (to read)."""
        document = await run_in_threadpool(service.export_conversations, user)
        return _export_response(document, format, "conversations")

    @app.post("/sessions/import")
    async def import_sessions(body: ConversationsExport, user: User, service: Service) -> ImportResult:
        """Conversations from a JSON export; those already in the history are skipped."""
        return await run_in_threadpool(service.import_conversations, user, body)

    @app.get("/sessions/{session_id}/export", response_model=None)
    async def export_one(
        session_id: str, user: User, service: Service, format: Annotated[ExportFormat, Query()] = "json"
    ) -> Response:
        document = await run_in_threadpool(service.export_conversations, user, session_id)
        return _export_response(document, format, f"conversation-{session_id}")

    @app.get("/sessions/{session_id}")
    async def conversation(session_id: str, user: User, service: Service) -> Conversation:
        return await run_in_threadpool(service.get_conversation, user, session_id)

    @app.patch("/sessions/{session_id}")
    async def rename(session_id: str, body: RenameRequest, user: User, service: Service) -> Session:
        return await run_in_threadpool(service.rename_session, user, session_id, body.title)

    @app.delete("/sessions/{session_id}", status_code=204)
    async def delete(session_id: str, user: User, service: Service) -> Response:
        await run_in_threadpool(service.delete_session, user, session_id)
        return Response(status_code=204)

    @app.delete("/sessions")
    async def delete_all(user: User, service: Service) -> dict[str, int]:
        return {"deleted": await run_in_threadpool(service.delete_all_sessions, user)}

    @app.post("/sessions/{session_id}/stop", status_code=202)
    async def stop(
        session_id: str, user: User, service: Service, body: StopRequest | None = None
    ) -> dict[str, str]:
        await run_in_threadpool(service.stop, user, session_id, body.lane if body else None)
        return {"status": "stopping"}

    @app.post("/votes")
    async def vote(body: VoteRequest, user: User, service: Service) -> VoteResult:
        return await run_in_threadpool(service.vote, user, body)

    @app.post("/admin/battles")
    async def import_battles(request: Request, admin: Admin, service: Service) -> BattlesImported:
        """Administrators: a battles file (JSONL, as `python -m chatbot.chat.battles export` writes)
        into the store; votes already there are skipped."""
        text = (await request.body()).decode("utf-8", errors="replace")
        return await run_in_threadpool(service.import_battles, text.splitlines())

    @app.get("/leaderboard")
    async def leaderboard(
        user: User, service: Service, category: Annotated[Category | None, Query()] = None
    ) -> Leaderboard:
        return await run_in_threadpool(service.votes.leaderboard, category)

    return app


#: The ASGI app for uvicorn (`lambdas.chat_api.app:app`), configured from the environment.
app = create_app()
