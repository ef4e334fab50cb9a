"""Lambda@Edge on the gateway's /v1/* behaviour: prepares an OpenAI client's request for
CloudFront's origin access control (OAC), which signs it for the chat API's function URL with SigV4.

The one function is associated twice, and the event's `config.eventType` says which run this is:

- **viewer-request** (no body): OAC's signature replaces the `Authorization` header, where OpenAI
  clients put their key, so the key moves to `X-Api-Key` (a sign-in token to `X-Id-Token`), the
  headers the chat API reads. This must happen at the viewer: CloudFront drops `Authorization`
  from GET requests before the origin-request stage.
- **origin-request** (with the body): SigV4 for Lambda needs the body's SHA-256 in
  `x-amz-content-sha256` (Lambda takes no unsigned payloads, and OpenAI clients do not send it).
  An origin-request function sees up to 1 MB of body; a viewer-request one only 40 KB, which an
  OpenAI client that resends the whole history passes after about 10k tokens. OAC signs after this
  stage, so the hash set here is the one signed.

Standard library only: Lambda@Edge takes no layers and no environment variables.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

#: The most body an origin-request function is handed; a longer one arrives truncated.
BODY_LIMIT_BYTES = 1024 * 1024
TOO_LARGE = {
    "status": "413",
    "statusDescription": "Payload Too Large",
    "headers": {"content-type": [{"key": "Content-Type", "value": "application/json"}]},
    "body": '{"error": {"message": "The request body is over 1 MB, the most the gateway takes. '
    'Send a shorter conversation (drop or summarise old messages).", "type": "invalid_request_error", '
    '"code": "request_too_large"}}',
}
#: chatbot.chat.api_keys.API_KEY_PREFIX (a test keeps the two equal: this file carries no imports).
API_KEY_PREFIX = "sk-chatbot-"


def handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    record = event["Records"][0]["cf"]
    request = record["request"]
    _move_key(request["headers"])
    if record.get("config", {}).get("eventType") == "viewer-request":
        return request
    body = request.get("body") or {}
    if body.get("inputTruncated"):
        return TOO_LARGE
    data = body.get("data") or ""
    raw = base64.b64decode(data) if body.get("encoding") == "base64" else data.encode()
    request["headers"]["x-amz-content-sha256"] = [
        {"key": "x-amz-content-sha256", "value": hashlib.sha256(raw).hexdigest()}
    ]
    return request


def _move_key(headers: dict[str, list[dict[str, str]]]) -> None:
    authorization = headers.pop("authorization", [{}])[0].get("value", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        name = "x-api-key" if token.strip().startswith(API_KEY_PREFIX) else "x-id-token"
        headers[name] = [{"key": name, "value": token.strip()}]
