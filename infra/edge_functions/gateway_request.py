"""Lambda@Edge, viewer request, on the gateway's /v1/* behaviour: prepares an OpenAI client's
request for CloudFront's origin access control (OAC), which signs it for the chat API's function
URL with SigV4.

- SigV4 for Lambda needs the body's SHA-256 in `x-amz-content-sha256` (Lambda takes no unsigned
  payloads, and OpenAI clients do not send it): computed here from the body CloudFront hands over.
- OAC's signature replaces the `Authorization` header, where OpenAI clients put their key: the
  key moves to `X-Api-Key` (a sign-in token to `X-Id-Token`), the headers the chat API reads.

Standard library only: Lambda@Edge takes no layers and no environment variables.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

#: Lambda@Edge hands a viewer-request function at most 1 MB of body; a longer one is truncated.
TOO_LARGE = {
    "status": "413",
    "statusDescription": "Payload Too Large",
    "headers": {"content-type": [{"key": "Content-Type", "value": "application/json"}]},
    "body": '{"error": {"message": "The request body is over 1 MB.", "type": "invalid_request_error", '
    '"code": "request_too_large"}}',
}
#: chatbot.chat.api_keys.API_KEY_PREFIX (a test keeps the two equal: this file carries no imports).
API_KEY_PREFIX = "sk-chatbot-"


def handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    request = event["Records"][0]["cf"]["request"]
    headers = request["headers"]
    body = request.get("body") or {}
    if body.get("inputTruncated"):
        return TOO_LARGE
    data = body.get("data") or ""
    raw = base64.b64decode(data) if body.get("encoding") == "base64" else data.encode()
    headers["x-amz-content-sha256"] = [
        {"key": "x-amz-content-sha256", "value": hashlib.sha256(raw).hexdigest()}
    ]
    authorization = headers.pop("authorization", [{}])[0].get("value", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        name = "x-api-key" if token.strip().startswith(API_KEY_PREFIX) else "x-id-token"
        headers[name] = [{"key": name, "value": token.strip()}]
    return request
