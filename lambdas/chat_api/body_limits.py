"""The request body limits, counted as the body arrives (an ASGI middleware around `receive`).

A Content-Length says nothing about a chunked body, and a client may send a body as slowly as it
likes: so the bytes are counted as they are read, and the request is answered 413 the moment
they pass the limit (nothing more is read: the server then closes the connection), and 408 when
the next part of the body is slow to come or the whole body takes too long. Uploads
(POST /documents) have their own, larger limit: the largest document plus room for the form.

Whatever the app does with the failed read (FastAPI turns a failed body into its own 400), its
answer is dropped and the refusal is sent instead, in the caller's shape (OpenAI's under /v1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatbot.errors import BodyTooLargeError, ChatbotError

#: Room for a multipart upload's envelope (boundaries, headers, the workspace field) around the file.
UPLOAD_ENVELOPE_BYTES = 64 * 1024
UPLOAD_PATH = "/documents"
#: The OpenAI-compatible gateway: images travel inside its bodies (issue 23), up to what the
#: edge function that signs /v1 requests in AWS sees of a body (1 MB, infra/components/gateway_edge.py).
#: The same limit applies locally, so a client that works here works in AWS.
GATEWAY_PREFIX = "/v1/"
GATEWAY_BODY_BYTES = 1_000_000


#: Why the gateway's limit is what it is, said with its 413.
GATEWAY_LIMIT_WHY = (
    "That is 1 MB: in AWS, the edge function that carries /v1 requests sees no more of a body. "
    "Send smaller or fewer images (they travel inside the body, base64-encoded)."
)


#: Files attached to a chat turn (issue 23): their own limit, with the same room for the form.
ATTACHMENT_PATH = "/attachments"


class BodyTimeoutError(ChatbotError):
    """The request body came too slowly."""

    code = "body_timeout"
    http_status = 408

    def __init__(self, seconds: float, *, whole: bool):
        what = "The whole request body took" if whole else "The next part of the request body took"
        super().__init__(f"{what} over {seconds:g} s to arrive. Send it again, all at once.")


@dataclass(frozen=True)
class BodyRules:
    #: The largest body of any request but an upload, in bytes.
    max_body_bytes: int
    #: The largest upload body (None: as max_body_bytes).
    max_upload_bytes: int | None
    #: The longest wait for the next part of a body.
    read_timeout_s: float
    #: The longest time a whole body may take.
    body_timeout_s: float
    #: The largest attached file (None: as max_body_bytes).
    max_attachment_bytes: int | None = None

    def limit_for(self, scope: Scope) -> int:
        if scope["path"] == UPLOAD_PATH and self.max_upload_bytes is not None:
            return self.max_upload_bytes + UPLOAD_ENVELOPE_BYTES
        if scope["path"] == ATTACHMENT_PATH and self.max_attachment_bytes is not None:
            return self.max_attachment_bytes + UPLOAD_ENVELOPE_BYTES
        if scope["path"].startswith(GATEWAY_PREFIX):
            return GATEWAY_BODY_BYTES
        return self.max_body_bytes


def too_large(scope: Scope, limit: int) -> BodyTooLargeError:
    """The refusal of a body over `limit` on this path, saying why the limit is what it is."""
    if scope["path"].startswith(GATEWAY_PREFIX):
        return BodyTooLargeError(limit, GATEWAY_LIMIT_WHY)
    return BodyTooLargeError(limit)


class _BodyRefusedError(Exception):
    """Raised out of `receive` to the app: the body is refused (the middleware answers)."""


class BodyLimits:
    """ASGI middleware. `rules_of(scope)` gives the rules (None: no limits, e.g. before start-up);
    `render(request, error)` gives the error response in the caller's shape."""

    def __init__(
        self,
        app: ASGIApp,
        rules_of: Callable[[Scope], BodyRules | None],
        render: Callable[[Request, ChatbotError], Response],
    ):
        self.app = app
        self._rules_of = rules_of
        self._render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rules = self._rules_of(scope) if scope["type"] == "http" else None
        if rules is None:
            await self.app(scope, receive, send)
            return
        limit = rules.limit_for(scope)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._render(Request(scope), too_large(scope, limit))(scope, receive, send)
            return
        body = _CountedBody(receive, limit, rules, too_large(scope, limit))

        response_started = False

        async def send_unless_refused(message: Message) -> None:
            nonlocal response_started
            if body.refusal is not None:
                return  # the app's answer to a body it could not read: ours goes instead
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, body.receive, send_unless_refused)
        except Exception:
            if body.refusal is None:
                raise
            # The app failed on the refused read (however it wrapped the error): answered below.
        if body.refusal is not None and not response_started:
            await self._render(Request(scope), body.refusal)(scope, _disconnected, send)


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}


class _CountedBody:
    """`receive`, counting the body's bytes and timing its parts."""

    def __init__(self, receive: Receive, limit: int, rules: BodyRules, too_large: ChatbotError):
        self._too_large = too_large
        self._receive = receive
        self._limit = limit
        self._rules = rules
        self._received = 0
        self._complete = False
        self._deadline = asyncio.get_running_loop().time() + rules.body_timeout_s
        self.refusal: ChatbotError | None = None

    async def receive(self) -> Message:
        if self.refusal is not None:
            return {"type": "http.disconnect"}
        if self._complete:  # after the body, only a disconnect can come: no time limit on it
            return await self._receive()
        left = self._deadline - asyncio.get_running_loop().time()
        wait = min(self._rules.read_timeout_s, max(left, 0))
        try:
            message: Message = await asyncio.wait_for(self._receive(), wait)
        except TimeoutError:
            whole = left <= self._rules.read_timeout_s
            seconds = self._rules.body_timeout_s if whole else self._rules.read_timeout_s
            return self._refuse(BodyTimeoutError(seconds, whole=whole))
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                return self._refuse(self._too_large)
            self._complete = not message.get("more_body", False)
        return message

    def _refuse(self, error: ChatbotError) -> Message:
        self.refusal = error
        raise _BodyRefusedError(str(error))
