"""Uploads sent straight to the documents bucket, for files larger than a request to the chat
API may carry (a Lambda function URL takes 6 MB at most, base64 inside).

The API hands out a presigned S3 POST for one key in the caller's own folder
(object_keys.object_key) that S3 accepts only up to the indexer's size limit; the caller posts
the file there, and the bucket's notification has the indexer index it, as for any object put
in the bucket. Nothing is stored until S3 takes the whole file.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chatbot.api.documents import DirectUpload
from chatbot.errors import ChatbotError
from chatbot.retrieval.errors import DocumentError
from chatbot.retrieval.extraction import content_type_for
from chatbot.retrieval.ingestion import refuse_oversized
from chatbot.retrieval.models import Upload
from chatbot.retrieval.object_keys import KeyLayoutError, object_key
from chatbot.retrieval.retriever import PRIVATE, WORKSPACE_PATTERN

#: How long an upload form stays valid: long enough to send 25 MB on a slow line.
EXPIRES_IN_S = 900
#: The metadata field that names a shared document's uploader (the indexer reads it).
UPLOADED_BY = "x-amz-meta-uploaded-by"


class DirectUploadUnavailableError(ChatbotError):
    code = "direct_upload_unavailable"
    http_status = 404


class DirectUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The file's name (its extension says how to read it); a path keeps only its last part.
    filename: str = Field(min_length=1, max_length=255)
    #: The file's size in bytes, checked against the limit before any form is handed out.
    size: int = Field(ge=1)
    workspace: str = Field(PRIVATE, pattern=WORKSPACE_PATTERN)


class DirectUploads:
    def __init__(self, s3: Any, bucket: str, max_bytes: int, *, expires_in_s: int = EXPIRES_IN_S):
        """`s3` is a boto3 S3 client whose credentials may put objects in `bucket`."""
        self.s3 = s3
        self.bucket = bucket
        self.max_bytes = max_bytes
        self.expires_in_s = expires_in_s

    def offer(self, user_id: str, request: DirectUploadRequest) -> DirectUpload:
        """The form for one upload, after every check that does not need the file itself."""
        filename = request.filename.replace("\\", "/").rsplit("/", 1)[-1]
        # The same checks as an upload through the API: name, workspace, format and size.
        Upload.checked(user_id=user_id, filename=filename, data=b"", workspace=request.workspace)
        content_type_for(filename)
        refuse_oversized(filename, request.size, self.max_bytes)
        try:
            key = object_key(request.workspace, user_id, filename)
        except KeyLayoutError as exc:
            raise DocumentError(f"This file cannot be stored under your name: {exc}.") from None
        post = self.s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={UPLOADED_BY: user_id},
            Conditions=[{UPLOADED_BY: user_id}, ["content-length-range", 1, self.max_bytes]],
            ExpiresIn=self.expires_in_s,
        )
        return DirectUpload(
            url=post["url"],
            fields=post["fields"],
            key=key,
            max_bytes=self.max_bytes,
            expires_in_s=self.expires_in_s,
        )
