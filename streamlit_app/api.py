"""The chat API over HTTP: the only way the app reaches models, history and votes.

One `httpx.Client` (a connection pool) is shared by every browser session (`st.cache_resource`);
each session wraps it in a `ChatApi` that carries its user's token. Failures become `ApiError`s
whose message a user can act on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from chatbot.api.api_keys import CreatedKey, KeyInfo
from chatbot.api.attachments import AttachmentRef
from chatbot.api.catalog import Limits, ModelInfo
from chatbot.api.documents import DirectUpload, DocumentInfo, RetrievedChunk, UploadLine
from chatbot.api.erasure import UserRemoved
from chatbot.api.leaderboard import Leaderboard
from chatbot.api.records import Session, SessionPage
from chatbot.api.requests import ChatRequest, CompareRequest, VoteRequest
from chatbot.api.sessions import Conversation, ImportResult, VoteResult
from chatbot.api.tools import McpServerInfo, McpServerRegistration, ToolsListing
from chatbot.api.users import UserInfo, UserSaved
from chatbot.models.events import Event, event_from_json_line
from streamlit_app.settings import UiSettings

T = TypeVar("T", bound=BaseModel)
#: A line of POST /documents' stream: progress, the stored document, or an error.
UPLOAD_LINE: TypeAdapter[UploadLine] = TypeAdapter(UploadLine)


class ApiError(Exception):
    """A chat API call failed; the message says what happened in a user's words."""

    def __init__(self, message: str, *, code: str = "api_error", status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


def http_client(settings: UiSettings) -> httpx.Client:
    """The shared connection pool, signing every request when the API sits behind AWS_IAM."""
    auth: httpx.Auth | None = None
    if settings.chat_api_auth == "aws_iam":
        from streamlit_app.aws_signing import SigV4Auth  # botocore is only needed in AWS

        auth = SigV4Auth(settings.region)
    return httpx.Client(
        base_url=settings.chat_api_url,
        auth=auth,
        timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
    )


class ChatApi:
    """One signed-in user's calls to the chat API."""

    def __init__(
        self,
        http: httpx.Client,
        token: str,
        *,
        token_header: Literal["authorization", "x-id-token"] = "authorization",
    ):
        self._http = http
        # Behind a function URL with AWS_IAM auth, Authorization carries the SigV4 signature,
        # so the user's own token travels in X-Id-Token (lambdas/chat_api/auth.py).
        self._headers = (
            {"Authorization": f"Bearer {token}"} if token_header == "authorization" else {"X-Id-Token": token}
        )

    # -- models and history ---------------------------------------------------------------

    def models(self) -> list[ModelInfo]:
        return [ModelInfo.model_validate(item) for item in self._json("GET", "/models")]

    def sessions(self, *, limit: int = 20, cursor: str | None = None) -> SessionPage:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        return _parse(SessionPage, self._json("GET", "/sessions", params=params))

    def conversation(self, session_id: str) -> Conversation:
        return _parse(Conversation, self._json("GET", f"/sessions/{session_id}"))

    def rename(self, session_id: str, title: str) -> Session:
        return _parse(Session, self._json("PATCH", f"/sessions/{session_id}", json={"title": title}))

    def delete(self, session_id: str) -> None:
        self._json("DELETE", f"/sessions/{session_id}")

    def delete_all(self) -> int:
        return int(self._json("DELETE", "/sessions")["deleted"])

    def export(self, session_id: str | None = None, *, format: Literal["json", "markdown"] = "json") -> bytes:
        """One conversation (or all of them) as a file: JSON to import again, Markdown to read."""
        path = f"/sessions/{session_id}/export" if session_id else "/sessions/export"
        return self._request("GET", path, params={"format": format}).content

    def import_conversations(self, document: bytes) -> ImportResult:
        """POST /sessions/import with a JSON export; conversations already there are skipped."""
        headers = {"Content-Type": "application/json"}
        return _parse(ImportResult, self._json("POST", "/sessions/import", content=document, headers=headers))

    # -- answers ------------------------------------------------------------------------

    def chat(self, request: ChatRequest) -> Iterator[Event]:
        """POST /chat: the answer's events as they arrive."""
        return self._stream("/chat", _body(request))

    def compare(self, request: CompareRequest) -> Iterator[Event]:
        """POST /compare: every lane's events, multiplexed on one stream (each names its lane)."""
        return self._stream("/compare", _body(request))

    def stop(self, session_id: str, lane: str | None = None) -> None:
        self._json("POST", f"/sessions/{session_id}/stop", json={"lane": lane} if lane else {})

    # -- votes --------------------------------------------------------------------------

    def vote(self, request: VoteRequest) -> VoteResult:
        return _parse(VoteResult, self._json("POST", "/votes", json=_body(request)))

    def leaderboard(self, category: str | None = None) -> Leaderboard:
        params = {"category": category} if category else None
        return _parse(Leaderboard, self._json("GET", "/leaderboard", params=params))

    def limits(self) -> Limits:
        return _parse(Limits, self._json("GET", "/limits"))

    # -- documents ----------------------------------------------------------------------

    def documents(self) -> list[DocumentInfo]:
        return [_parse(DocumentInfo, item) for item in self._json("GET", "/documents")]

    def attach(self, filename: str, data: bytes) -> AttachmentRef:
        """POST /attachments: one file for the next chat message (its id goes in the request)."""
        return _parse(AttachmentRef, self._json("POST", "/attachments", files={"file": (filename, data)}))

    def upload(self, filename: str, data: bytes, workspace: str = "private") -> Iterator[UploadLine]:
        """POST /documents: progress updates, then the stored document (or an error line)."""
        request = {"files": {"file": (filename, data)}, "data": {"workspace": workspace}}
        for line in self._lines("/documents", request):
            yield _parse(UPLOAD_LINE, json.loads(line))

    def upload_to_bucket(self, filename: str, data: bytes, workspace: str = "private") -> DirectUpload:
        """A file too large for POST /documents, sent straight to the documents bucket with the
        form the API hands out. The indexer indexes it from there: it is listed once indexed."""
        request = {"filename": filename, "size": len(data), "workspace": workspace}
        form = _parse(DirectUpload, self._json("POST", "/documents/upload-url", json=request))
        try:
            # Not through the API's client: the form is its own authorisation (no SigV4, no token).
            response = httpx.post(
                form.url, data=form.fields, files={"file": (filename, data)}, timeout=self._http.timeout
            )
        except httpx.HTTPError as exc:
            raise ApiError(
                f"The documents bucket could not be reached ({exc}). Try again.", code="bucket_unreachable"
            ) from None
        if response.status_code >= 300:
            raise ApiError(
                f"The documents bucket refused {filename} ({response.status_code}): {response.text[:300]}",
                code="bucket_refused",
                status=response.status_code,
            )
        return form

    def delete_document(self, document_id: str) -> None:
        self._json("DELETE", f"/documents/{document_id}")

    def search_documents(self, query: str, *, k: int = 10, mode: str = "hybrid") -> list[RetrievedChunk]:
        params = {"q": query, "k": k, "mode": mode}
        return [
            _parse(RetrievedChunk, item) for item in self._json("GET", "/documents/search", params=params)
        ]

    # -- API keys for the OpenAI-compatible gateway -------------------------------------

    def api_keys(self) -> list[KeyInfo]:
        return [_parse(KeyInfo, item) for item in self._json("GET", "/api-keys")]

    def create_api_key(self, name: str) -> CreatedKey:
        return _parse(CreatedKey, self._json("POST", "/api-keys", json={"name": name}))

    def revoke_api_key(self, key_id: str) -> KeyInfo:
        return _parse(KeyInfo, self._json("DELETE", f"/api-keys/{key_id}"))

    # -- users (administrators; the API checks the role) ---------------------------------

    def users(self) -> list[UserInfo]:
        return [_parse(UserInfo, item) for item in self._json("GET", "/users")]

    def save_user(self, name: str, password: str, *, admin: bool = False) -> UserSaved:
        body = {"password": password, "admin": admin}
        return _parse(UserSaved, self._json("PUT", f"/users/{quote(name, safe='')}", json=body))

    # -- MCP servers and tools (registering is for administrators; the API checks the role) --

    def mcp_servers(self) -> list[McpServerInfo]:
        return [_parse(McpServerInfo, item) for item in self._json("GET", "/mcp-servers")]

    def register_mcp_server(self, name: str, registration: McpServerRegistration) -> McpServerInfo:
        body = registration.model_dump(exclude_none=True)
        return _parse(McpServerInfo, self._json("PUT", f"/mcp-servers/{quote(name, safe='')}", json=body))

    def remove_mcp_server(self, name: str) -> None:
        self._json("DELETE", f"/mcp-servers/{quote(name, safe='')}")

    def mcp_server_tools(self, name: str) -> ToolsListing:
        return _parse(ToolsListing, self._json("GET", f"/mcp-servers/{quote(name, safe='')}/tools"))

    def tools(self) -> ToolsListing:
        """The tools of the MCP servers published to this user."""
        return _parse(ToolsListing, self._json("GET", "/tools"))

    def remove_user(self, name: str, *, delete_data: bool = False) -> UserRemoved | None:
        """Removes the account; with `delete_data`, their data too, and says how much went."""
        path = f"/users/{quote(name, safe='')}"
        if not delete_data:
            self._json("DELETE", path)
            return None
        return _parse(UserRemoved, self._json("DELETE", path, params={"delete_data": "true"}))

    # -- plumbing -----------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        return response.json() if response.content else None

    def _request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self._http.request(
                method, path, headers={**self._headers, **(headers or {})}, **kwargs
            )
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self._http.base_url) from None
        if response.status_code >= 400:
            raise _status_error(response)
        return response

    def _stream(self, path: str, body: dict[str, Any]) -> Iterator[Event]:
        try:
            for line in self._lines(path, {"json": body}):
                yield event_from_json_line(line)
        except ValidationError as exc:
            raise ApiError(
                f"The chat API sent an event this app cannot read ({exc.errors()[0]['msg']})."
            ) from None

    def _lines(self, path: str, request: dict[str, Any]) -> Iterator[str]:
        """The non-empty lines of a streamed (NDJSON) POST answer."""
        try:
            with self._http.stream("POST", path, headers=self._headers, **request) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _status_error(response)
                for line in response.iter_lines():
                    if line.strip():
                        yield line
        except httpx.HTTPError as exc:
            raise _transport_error(exc, self._http.base_url) from None


def _body(request: BaseModel) -> dict[str, Any]:
    """A typed request as the API reads it (fields left unset stay out)."""
    return request.model_dump(mode="json", exclude_none=True)


def _parse(kind: type[T] | TypeAdapter[T], data: Any) -> T:
    try:
        return kind.validate_python(data) if isinstance(kind, TypeAdapter) else kind.model_validate(data)
    except ValidationError as exc:
        raise ApiError(
            f"The chat API answered something this app cannot read ({exc.errors()[0]['msg']})."
        ) from None


def _status_error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = (
            "http_error",
            f"The chat API answered {response.status_code} {response.reason_phrase}.",
        )
    return ApiError(message, code=code, status=response.status_code)


def _transport_error(exc: httpx.HTTPError, base_url: httpx.URL) -> ApiError:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return ApiError(
            f"Cannot reach the chat API at {base_url}. Is it running? (`make chat` starts it.)",
            code="api_unreachable",
        )
    if isinstance(exc, httpx.TimeoutException):
        return ApiError("The chat API took too long to answer. Try again.", code="api_timeout")
    return ApiError(f"The connection to the chat API broke ({exc}). Try again.", code="api_broken")
