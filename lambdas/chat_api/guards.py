"""Checks every request passes before any route sees it.

Text that no store can keep is refused with a 422 that names where it is, instead of failing
deep in a store (a 500):
- a NUL character (U+0000): Postgres text and jsonb cannot hold it, and nobody means to send one;
- a lone surrogate (U+D800 to U+DFFF on its own, which JSON can spell as `\\ud800`): half of a
  UTF-16 pair is not a character, and cannot be encoded as UTF-8.

One rule, here, for every route: anywhere a person's text arrives (a JSON body at any depth,
whatever the case and parameters of its Content-Type; the path; the query). An uploaded file's
name and text are checked where they are read (chatbot.retrieval).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fastapi import Request

from chatbot.errors import ChatbotError, NulCharacterError


class LoneSurrogateError(ChatbotError):
    """Half of a UTF-16 surrogate pair, on its own: not a character, so not text anyone can store."""

    code = "invalid_text"
    http_status = 422

    def __init__(self, where: str):
        self.where = where
        super().__init__(
            f"{where} contains a lone surrogate (a \\ud800-\\udfff escape without its pair), which is "
            "not a character. Send the whole character (both halves of the pair, or the character "
            "itself in UTF-8), or remove it."
        )


def _flaw(text: str) -> type[ChatbotError] | None:
    if "\x00" in text:
        return NulCharacterError
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # only a lone surrogate cannot be encoded
        return LoneSurrogateError
    return None


def flaw_in(value: Any, where: str) -> ChatbotError | None:
    """The error for the first unstorable text in a decoded JSON value, or None."""
    if isinstance(value, str):
        return flaw(where) if (flaw := _flaw(value)) else None
    items: Iterable[tuple[Any, Any]]  # (key or index, value)
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and (flaw := _flaw(key)):
            return flaw(f"{where}: a key" if where else "a key")
        if found := flaw_in(item, f"{where}.{key}" if where else str(key)):
            return found
    return None


def is_json(request: Request) -> bool:
    """Whether the body says it is JSON: media types are case-insensitive, and may carry parameters."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


async def _flaw_in_request(request: Request) -> ChatbotError | None:
    if "\x00" in request.url.path or "%00" in request.scope.get("raw_path", b"").decode("latin-1"):
        return NulCharacterError("the path")
    for name, value in request.query_params.multi_items():
        if flaw := _flaw(name + value):
            return flaw(f"query parameter {name.replace(chr(0), '')!r}")
    if is_json(request):
        body = await request.body()  # Starlette hands the same bytes on to the route
        # JSON carries a NUL or a surrogate only as a \u escape: skip the parse otherwise.
        if b"\\u" in body:
            try:
                return flaw_in(json.loads(body), "")
            except ValueError:
                return None  # not JSON: the route's own validation says so
    return None


async def unstorable_text_error(request: Request) -> ChatbotError | None:
    """The error to answer instead of routing, if text no store can keep is anywhere in the request."""
    return await _flaw_in_request(request)
