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
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from chatbot.api.documents import (
    DirectUpload,
    DocumentInfo,
    DocumentLine,
    ErrorLine,
    IngestProgress,
    ProgressLine,
    RetrievedChunk,
)
from chatbot.errors import ChatbotError
from chatbot.retrieval.direct_uploads import DirectUploadRequest, DirectUploadUnavailableError
from chatbot.retrieval.models import Upload
from chatbot.retrieval.retriever import PRIVATE, WITH_SHARED, SearchMode
from lambdas.chat_api.auth import Caller, ForbiddenError
from lambdas.chat_api.dependencies import RetrievalDep, User, current_admin, current_caller

router = APIRouter()
log = logging.getLogger(__name__)


class IngestFailedError(ChatbotError):
    """Indexing stopped for a reason that is not the file's (the database or the embedding
    model failed, say): the upload changed nothing and may be sent again."""

    code = "ingest_failed"
    http_status = 500


CallerDep = Annotated[Caller, Depends(current_caller)]


def _is_admin(request: Request, caller: Caller) -> bool:
    """An administrator, as the /users routes check one (the users file must still say so)."""
    try:
        current_admin(request, caller)
    except ForbiddenError:
        return False
    return True


def may_write(request: Request, caller: Caller, workspace: str) -> bool:
    """Refuse an upload to a shared workspace unless the caller's role may write there
    (CHATBOT_SHARED_DOCUMENT_WRITERS); True if the caller may replace anyone's documents."""
    admin = _is_admin(request, caller)
    writers = getattr(request.app.state, "shared_document_writers", "admin")
    if workspace != PRIVATE and writers != "everyone" and not admin:
        raise ForbiddenError(
            f"Only administrators can add documents to the shared workspace {workspace!r} here: what "
            "is shared is searched in other people's chats. Upload it as private, or ask an "
            "administrator to share it."
        )
    return admin


def _as_chatbot_error(filename: str, exc: Exception) -> ChatbotError:
    """What the client is told when indexing `filename` raised `exc`, whatever raised it."""
    if isinstance(exc, ChatbotError):
        return exc
    # The exception's own text can name hosts, tables or paths: it goes to the log (the caller
    # logs it), the client gets its kind only.
    return IngestFailedError(
        f"{filename!r} was not indexed ({type(exc).__name__}). Nothing was stored; "
        "send it again, and if it fails again, tell an administrator."
    )


@router.post("/documents")
async def upload(
    request: Request,
    caller: CallerDep,
    retrieval: RetrievalDep,
    file: Annotated[UploadFile, File()],
    workspace: Annotated[str, Form()] = PRIVATE,
) -> Response:
    """Index a file: the caller's own (private), or shared with everyone who opts in, for the
    roles that may share. A shared file belongs to its uploader: replacing it is theirs or an
    administrator's to do, and anyone else's file of the same name gets a 409."""
    admin = may_write(request, caller, workspace)
    retrieval.ingestor.check_size(file.filename or "upload", file.size or 0)
    document = Upload.checked(
        user_id=caller.user_id, filename=file.filename or "upload", data=b"", workspace=workspace
    )
    await run_in_threadpool(retrieval.ingestor.check_may_replace, document, may_replace_others=admin)
    document = document.model_copy(update={"data": await file.read()})
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[BaseModel | ChatbotError | None] = asyncio.Queue()

    def ingest() -> None:
        def report(progress: IngestProgress) -> None:
            loop.call_soon_threadsafe(
                lines.put_nowait, ProgressLine(progress=progress, fraction=progress.fraction)
            )

        try:
            result = retrieval.ingestor.ingest(document, on_progress=report, may_replace_others=admin)
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
async def upload_url(body: DirectUploadRequest, request: Request, caller: CallerDep) -> DirectUpload:
    """A presigned S3 POST for a file too large for POST /documents: send the returned fields and
    then the file to `url`; the document is listed once the indexer has indexed it."""
    may_write(request, caller, body.workspace)
    retrieval = getattr(request.app.state, "retrieval", None)
    if retrieval is not None and body.workspace != PRIVATE:
        # The indexer cannot ask who is an administrator: a shared name taken by someone else is
        # refused here, to everyone (an administrator deletes the old one first).
        name = body.filename.replace("\\", "/").rsplit("/", 1)[-1]
        probe = Upload.checked(user_id=caller.user_id, filename=name, data=b"", workspace=body.workspace)
        await run_in_threadpool(retrieval.ingestor.check_may_replace, probe)
    direct_uploads = request.app.state.direct_uploads
    if direct_uploads is None:
        raise DirectUploadUnavailableError(
            "This deployment has no documents bucket to upload to: send the file to POST /documents."
        )
    return await run_in_threadpool(direct_uploads.offer, caller.user_id, body)


@router.get("/documents")
async def list_documents(
    user: User, retrieval: RetrievalDep, workspace: Annotated[list[str] | None, Query()] = None
) -> list[DocumentInfo]:
    return await run_in_threadpool(retrieval.store.list_documents, user, workspace or list(WITH_SHARED))


@router.delete("/documents/{document_id}", status_code=204)
async def delete_document(
    document_id: str, request: Request, caller: CallerDep, retrieval: RetrievalDep
) -> Response:
    """Delete one of the caller's documents; an administrator may delete any shared one."""
    admin = _is_admin(request, caller)
    await run_in_threadpool(
        retrieval.store.delete_document, caller.user_id, document_id, may_delete_shared=admin
    )
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
    """The search debugger: ranked chunks with their vector, full-text and fused scores, and
    their uploaders (it searches the shared workspace too unless told otherwise)."""
    workspaces = workspace or list(WITH_SHARED)
    return await run_in_threadpool(retrieval.retriever.search, user, q, k, workspaces=workspaces, mode=mode)
