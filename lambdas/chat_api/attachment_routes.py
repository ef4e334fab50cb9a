"""Files attached to a chat turn (issue 23): upload one, read back its reference.

POST /attachments takes one file (multipart, up to the attachment limit: a larger one gets 413
naming the limit) and answers its `AttachmentRef`; a chat request then names its id in
`attachments`. The file's text is read out as it is uploaded, so a file that cannot be read is
refused here (415 for a kind not taken, 422 for an unreadable one), not in the middle of a chat.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.concurrency import run_in_threadpool

from chatbot.api.attachments import ATTACHMENT_ID_PATTERN, AttachmentRef
from chatbot.chat.attachments import AttachmentNotFoundError, Attachments
from chatbot.chat.service import ChatService
from chatbot.errors import InvalidRequestError
from lambdas.chat_api.dependencies import Service, User

router = APIRouter()


def _attachments(service: ChatService) -> Attachments:
    attachments = service.turns.attachments
    if attachments is None:
        raise InvalidRequestError("Attachments are not set up on this deployment.")
    return attachments


@router.post("/attachments", status_code=201)
async def upload_attachment(
    user: User, service: Service, file: Annotated[UploadFile, File()]
) -> AttachmentRef:
    attachments = _attachments(service)
    filename = file.filename or "attachment"
    attachments.check_size(filename, file.size or 0)  # before reading it
    data = await file.read()
    return await run_in_threadpool(attachments.upload, user, filename, data)


@router.get("/attachments/{attachment_id}")
async def get_attachment(attachment_id: str, user: User, service: Service) -> AttachmentRef:
    if not re.fullmatch(ATTACHMENT_ID_PATTERN, attachment_id):
        raise AttachmentNotFoundError(f"{attachment_id[:40]!r} is not an attachment id.")
    return await run_in_threadpool(_attachments(service).get, user, attachment_id)
