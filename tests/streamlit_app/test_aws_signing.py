"""Chat API calls signed for a function URL with AWS_IAM auth, the user's token beside them."""

from __future__ import annotations

import httpx

from streamlit_app.api import ChatApi
from streamlit_app.aws_signing import SigV4Auth


def test_requests_are_signed_for_lambda_with_the_user_token_in_the_signature(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    http = httpx.Client(
        base_url="https://abc.lambda-url.eu-west-1.on.aws",
        auth=SigV4Auth("eu-west-1"),
        transport=httpx.MockTransport(record),
    )
    ChatApi(http, "the-id-token", token_header="x-id-token").models()
    (request,) = seen
    authorization = request.headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/lambda/aws4_request" in authorization
    assert "SignedHeaders=host;x-amz-date;x-id-token" in authorization
    assert request.headers["x-id-token"] == "the-id-token"
