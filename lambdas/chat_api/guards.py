"""Checks every request passes before any route sees it.

Postgres text and jsonb cannot hold a NUL character (U+0000), and nobody means to send one:
a NUL anywhere a person's text arrives (a JSON body at any depth, the path, the query) is
refused with a 422 that names where it is, instead of failing deep in a store. One rule,
here, for every route; an uploaded file's name and text are checked where they are read
(chatbot.retrieval).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from chatbot.chat.requests import NulCharacterError


def nul_in(value: Any, where: str) -> str | None:
    """Where the first NUL is in a decoded JSON value, or None."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return f"{where}: a key"
        if found := nul_in(item, f"{where}.{key}" if where else str(key)):
            return found
    return None


async def _nul_in_request(request: Request) -> str | None:
    if "\x00" in request.url.path or "%00" in request.scope.get("raw_path", b"").decode("latin-1"):
        return "the path"
    for name, value in request.query_params.multi_items():
        if "\x00" in name + value:
            return f"query parameter {name.replace(chr(0), '')!r}"
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.body()  # Starlette hands the same bytes on to the route
        if b"\\u0000" in body:  # the only way JSON can carry a NUL: skip the parse otherwise
            try:
                return nul_in(json.loads(body), "")
            except ValueError:
                return None  # not JSON: the route's own validation says so
    return None


async def nul_character_error(request: Request) -> NulCharacterError | None:
    """The error to answer instead of routing, if a NUL is anywhere in the request."""
    if where := await _nul_in_request(request):
        return NulCharacterError(where)
    return None
