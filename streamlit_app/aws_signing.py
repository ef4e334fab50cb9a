"""SigV4 signing for a Lambda function URL with AWS_IAM auth (the chat API in AWS).

The ECS task role's credentials come from botocore's usual chain (the container credentials
endpoint on Fargate) and are refreshed by botocore before they expire.
"""

from __future__ import annotations

from collections.abc import Generator

import botocore.session
import httpx
from botocore.auth import SigV4Auth as _BotocoreSigV4
from botocore.awsrequest import AWSRequest

#: Headers worth signing. Others (connection, accept-encoding, user-agent) may be changed on
#: the way and would break the signature for nothing.
SIGNED_HEADERS = ("content-type", "x-id-token")


class SigV4Auth(httpx.Auth):
    requires_request_body = True

    def __init__(self, region: str, service: str = "lambda"):
        self._region, self._service = region, service
        self._session = botocore.session.get_session()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        credentials = self._session.get_credentials()
        if credentials is None:
            raise RuntimeError("No AWS credentials for signing chat API calls (is the task role set?)")
        signed = AWSRequest(
            method=request.method,
            url=str(request.url),
            data=request.content,
            headers={name: request.headers[name] for name in SIGNED_HEADERS if name in request.headers},
        )
        _BotocoreSigV4(credentials.get_frozen_credentials(), self._service, self._region).add_auth(signed)
        request.headers.update(dict(signed.headers.items()))
        yield request
