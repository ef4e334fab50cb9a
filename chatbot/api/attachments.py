"""Files attached to a chat turn, as the chat API answers about them and a message keeps them.

A message holds a reference to each file (id, name, type, size), never its bytes: the bytes
and the text read out of them live in the blob store (S3 in AWS, a folder locally; see
chatbot/chat/attachments.py), since a DynamoDB item stops at 400 KB.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal

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


ImageFormat = Literal["png", "jpeg", "gif", "webp"]
_DATA_URL = re.compile(r"^data:image/(png|jpeg|jpg|gif|webp);base64,(.*)$", re.DOTALL)


class ImageInput(BaseModel):
    """An image sent inside a request (a /v1 `image_url` data URL), for a model that takes images."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: ImageFormat
    data: bytes

    @classmethod
    def from_data_url(cls, url: str) -> ImageInput:
        """Raises ValueError, saying what is taken, for anything but a base64 data URL of an image."""
        match = _DATA_URL.match(url.strip())
        if match is None:
            raise ValueError(
                "image_url.url must be a data URL (data:image/png;base64,...) of a PNG, JPEG, GIF or "
                "WebP image: images travel inside the request, never fetched from a link"
            )
        try:
            data = base64.b64decode(match.group(2), validate=True)
        except binascii.Error:
            raise ValueError("image_url.url: the data after base64, is not valid base64") from None
        kind = "jpeg" if match.group(1) == "jpg" else match.group(1)
        return cls(format=kind, data=data)

    def block(self) -> dict[str, object]:
        """As a chat message carries it to Converse (chatbot/models/bedrock.py)."""
        return {"format": self.format, "bytes": self.data}
