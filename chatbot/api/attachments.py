"""Files attached to a chat turn, as the chat API answers about them and a message keeps them.

A message holds a reference to each file (id, name, type, size), never its bytes: the bytes
and the text read out of them live in the blob store (S3 in AWS, a folder locally; see
chatbot/chat/attachments.py), since a DynamoDB item stops at 400 KB.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: An attachment id: 32 hex digits (a random UUID), the only form a request may name.
ATTACHMENT_ID_PATTERN = r"^[0-9a-f]{32}$"
#: Files one chat turn may attach.
MAX_ATTACHMENTS_PER_TURN = 8


class AttachmentRef(BaseModel):
    """What a message keeps of one attached file (and what POST /attachments answers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ATTACHMENT_ID_PATTERN)
    #: The file's name as uploaded (its last path part): untrusted text, escaped where shown.
    name: str = Field(min_length=1, max_length=255)
    content_type: str = Field(max_length=200)
    #: The file's size in bytes.
    size: int = Field(ge=0)
