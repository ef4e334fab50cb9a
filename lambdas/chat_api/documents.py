"""Document routes of the chat API: upload with progress, list, delete, and a search debugger.

Uploads answer NDJSON: `progress` lines (stage, chunks done / total) and then one `document`
line, or an `error` line naming the file and the reason. A file refused outright (too large,
unsupported, unreadable) gets an HTTP error instead, and the store is left as it was. Whatever
fails, the client is told: the indexing thread reports every exception, not only ours.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict

from chatbot.errors import ChatbotError
from chatbot.retrieval.direct_uploads import (
    DirectUpload,
    DirectUploadRequest,
    DirectUploadUnavailableError,
)
from chatbot.retrieval.models import DocumentInfo, IngestProgress, Upload
from chatbot.retrieval.retriever import DEFAULT_WORKSPACES, PRIVATE, RetrievedChunk, SearchMode
from lambdas.chat_api.dependencies import RetrievalDep, User

router = APIRouter()
log = logging.getLogger(__name__)


class ProgressLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["progress"] = "progress"
    progress: IngestProgress
    #: 0..1, for a progress bar.
    fraction: float


class DocumentLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["document"] = "document"
    document: DocumentInfo
    #: This upload replaced an earlier version of the same file.
    replaced: bool


class ErrorLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["error"] = "error"
    code: str
    message: str
    #: The file that was not indexed.
    filename: str | None = None


class IngestFailedError(ChatbotError):
    """Indexing stopped for a reason that is not the file's (the database or the embedding
    model failed, say): the upload changed nothing and may be sent again."""

    code = "ingest_failed"
    http_status = 500


def _as_chatbot_error(filename: str, exc: Exception) -> ChatbotError:
    """What the client is told when indexing `filename` raised `exc`, whatever raised it."""
    if isinstance(exc, ChatbotError):
        return exc
    return IngestFailedError(
        f"{filename!r} was not indexed: {type(exc).__name__}: {exc}. Nothing was stored; "
        "send it again, and if it fails again, tell an administrator."
    )


@router.post("/documents")
async def upload(
    user: User,
    retrieval: RetrievalDep,
    file: Annotated[UploadFile, File()],
    workspace: Annotated[str, Form()] = PRIVATE,
) -> Response:
    retrieval.ingestor.check_size(file.filename or "upload", file.size or 0)
    data = await file.read()
    document = Upload.checked(
        user_id=user, filename=file.filename or "upload", data=data, workspace=workspace
    )
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[BaseModel | ChatbotError | None] = asyncio.Queue()

    def ingest() -> None:
        def report(progress: IngestProgress) -> None:
            loop.call_soon_threadsafe(
                lines.put_nowait, ProgressLine(progress=progress, fraction=progress.fraction)
            )

        try:
            result = retrieval.ingestor.ingest(document, on_progress=report)
            loop.call_soon_threadsafe(
                lines.put_nowait, DocumentLine(document=result.document, replaced=result.replaced)
            )
        except Exception as exc:  # every failure reaches the client, as an HTTP error or a line
            if not isinstance(exc, ChatbotError):
                log.exception("indexing %r failed", document.filename)
            loop.call_soon_threadsafe(lines.put_nowait, _as_chatbot_error(document.filename, exc))
        finally:
            loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=ingest, name="ingest", daemon=True).start()
    # Hold the answer until the text is extracted: a file that cannot be read (empty, corrupt,
    # encrypted, not text) is then refused with a plain HTTP error, before any chunk is stored.
    held: list[BaseModel | None] = []
    while True:
        item = await lines.get()
        if isinstance(item, ChatbotError):
            raise item
        held.append(item)
        if not isinstance(item, ProgressLine) or item.progress.stage != "extracting":
            break

    async def stream() -> AsyncIterator[bytes]:
        pending = list(held)
        while True:
            item = pending.pop(0) if pending else await lines.get()
            if item is None:
                return
            if isinstance(item, ChatbotError):
                message = str(item)
                if repr(document.filename) not in message:
                    message = f"{document.filename!r} was not indexed: {message}"
                item = ErrorLine(code=item.code, message=message, filename=document.filename)
            yield item.model_dump_json().encode() + b"\n"

    return StreamingResponse(stream(), media_type="application/x-ndjson")


@router.post("/documents/upload-url")
async def upload_url(body: DirectUploadRequest, request: Request, user: User) -> DirectUpload:
    """A presigned S3 POST for a file too large for POST /documents: send the returned fields and
    then the file to `url`; the document is listed once the indexer has indexed it."""
    direct_uploads = request.app.state.direct_uploads
    if direct_uploads is None:
        raise DirectUploadUnavailableError(
            "This deployment has no documents bucket to upload to: send the file to POST /documents."
        )
    return await run_in_threadpool(direct_uploads.offer, user, body)


@router.get("/documents")
async def list_documents(
    user: User, retrieval: RetrievalDep, workspace: Annotated[list[str] | None, Query()] = None
) -> list[DocumentInfo]:
    return await run_in_threadpool(
        retrieval.store.list_documents, user, workspace or list(DEFAULT_WORKSPACES)
    )


@router.delete("/documents/{document_id}", status_code=204)
async def delete_document(document_id: str, user: User, retrieval: RetrievalDep) -> Response:
    await run_in_threadpool(retrieval.store.delete_document, user, document_id)
    return Response(status_code=204)


@router.get("/documents/search")
async def search(
    user: User,
    retrieval: RetrievalDep,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    k: Annotated[int, Query(ge=1, le=50)] = 10,
    mode: SearchMode = "hybrid",
    workspace: Annotated[list[str] | None, Query()] = None,
) -> list[RetrievedChunk]:
    """The search debugger: ranked chunks with their vector, full-text and fused scores."""
    workspaces = workspace or list(DEFAULT_WORKSPACES)
    return await run_in_threadpool(retrieval.retriever.search, user, q, k, workspaces=workspaces, mode=mode)
