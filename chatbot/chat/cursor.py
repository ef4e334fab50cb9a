"""Page cursors: opaque to callers, JSON inside, and checked when they come back.

A cursor is whatever the store needs to find the next page (a position for Postgres, the
last key for DynamoDB), as URL-safe base64 of JSON. A cursor that does not decode, or that
decodes to something of the wrong shape, is the caller's mistake: `InvalidCursorError`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chatbot.errors import ChatbotError


class InvalidCursorError(ChatbotError):
    code = "invalid_cursor"
    http_status = 422

    def __init__(self) -> None:
        super().__init__(
            "The cursor is not one this API gave out. Pass back the `cursor` of the previous page "
            "unchanged, or leave it out to start from the first page."
        )


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def decode_cursor(cursor: str) -> Any:
    """The position inside; raises InvalidCursorError (never a decoding error)."""
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8"))
    except (UnicodeError, binascii.Error, ValueError):
        raise InvalidCursorError() from None
