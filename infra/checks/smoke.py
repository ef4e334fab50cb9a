"""After `pulumi up`: does the deployment work end to end? `python -m infra.smoke --stack S`.

As a test user, through the same HTTP API the web app and OpenAI clients use, it:
signs in, lists the models, runs one chat, one compare and one `/v1` call (with an API key made
for it), uploads a small document and asks a question only that document answers, then cleans up
(the document, the conversations, the key, the user) and prints one table. Exit status 0 when
every step passed.

- AWS (`--stack S`): the stack's outputs (`pulumi stack output --json`); the test user is made in
  the stack's user pool and signed in with the admin API (ADMIN_USER_PASSWORD_AUTH), requests to
  the chat API's function URL are signed with your AWS credentials (SigV4), and `/v1` goes through
  the gateway's CloudFront distribution.
- Local (`--api-url URL --local-secret-file F`): the local stack (`make chat`), the user's token
  minted with the local secret, as the local web app does. The test suite runs this mode.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: A fact no model knows: the answer must come from the uploaded document.
CODEWORD = "PELICAN-4172"
DOCUMENT = (
    f"Smoke test note. The deployment's smoke-test codeword is {CODEWORD}. "
    "It is written only in this document, which the smoke test deletes when it is done.\n"
)
QUESTION = "What is the deployment's smoke-test codeword?"
#: Short answers: the smoke test checks the path, not the prose.
PARAMETERS = {"max_new_tokens": 24, "temperature": 0}


class SmokeStepError(Exception):
    """A step failed; the message says what came back."""


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class Target:
    """Where the deployment answers, and as whom."""

    #: The chat API's own routes (/models, /chat...), with the user's credentials on every request.
    api: httpx.Client
    #: The OpenAI-compatible base URL (ending in /v1).
    gateway_url: str
    #: Called once at the end: removes the test user, where one was made.
    remove_user: Callable[[], None] = lambda: None


@dataclass
class Smoke:
    target: Target
    #: The models to chat with (two for the compare); default: the first two the API lists.
    models: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    _sessions: list[str] = field(default_factory=list)

    def run(self) -> list[Step]:
        try:
            self._step("models", self._list_models)
            self._step("chat", self._chat)
            self._step("compare", self._compare)
            self._step("/v1 chat completion", self._gateway)
            self._step("document, grounded answer", self._document)
        finally:
            self._step("clean up", self._clean_up)
        return self.steps

    def _step(self, name: str, action: Callable[[], str]) -> None:
        started = time.monotonic()
        try:
            detail, ok = action(), True
        except (SmokeStepError, httpx.HTTPError, ValueError, KeyError) as exc:
            detail, ok = f"{type(exc).__name__}: {exc}", False
        self.steps.append(Step(name, ok, time.monotonic() - started, detail))

    # -- the steps --------------------------------------------------------------------------

    def _list_models(self) -> str:
        listed = [model["name"] for model in _ok(self.target.api.get("/models")).json()]
        self.models = self.models or listed[:2]
        if not self.models:
            raise SmokeStepError("the API lists no chat models")
        missing = [name for name in self.models if name not in listed]
        if missing:
            raise SmokeStepError(f"{missing} not among the listed models {listed}")
        return f"{len(listed)} chat models; using {', '.join(self.models)}"

    def _chat(self) -> str:
        events = self._stream(
            "/chat", {"model": self.models[0], "message": "Say hello.", "parameters": PARAMETERS}
        )
        return f"{self.models[0]}: {_answer(events)!r}"

    def _compare(self) -> str:
        models = self.models if len(self.models) > 1 else self.models * 2
        events = self._stream(
            "/compare", {"models": models[:2], "message": "Say hello.", "parameters": PARAMETERS}
        )
        done = [event for event in events if event["type"] == "done"]
        if len(done) != 2:
            raise SmokeStepError(f"{len(done)} of 2 lanes finished")
        return f"{len(done)} lanes answered"

    def _gateway(self) -> str:
        created = _ok(
            self.target.api.post("/api-keys", json={"name": f"smoke-{uuid.uuid4().hex[:8]}"})
        ).json()
        try:
            response = httpx.post(
                f"{self.target.gateway_url.rstrip('/')}/chat/completions",
                headers={"Authorization": f"Bearer {created['key']}"},
                json={
                    "model": self.models[0],
                    "messages": [{"role": "user", "content": "Say hello."}],
                    "max_tokens": PARAMETERS["max_new_tokens"],
                },
                timeout=300,
            )
            answer = _ok(response).json()["choices"][0]["message"]["content"]
        finally:
            _ok(self.target.api.delete(f"/api-keys/{created['info']['id']}"))
        return f"{self.models[0]} with an API key: {answer!r}"

    def _document(self) -> str:
        name = f"smoke-{uuid.uuid4().hex[:8]}.txt"
        upload = self.target.api.post("/documents", files={"file": (name, DOCUMENT.encode(), "text/plain")})
        lines = [json.loads(line) for line in _ok(upload).text.splitlines() if line.strip()]
        stored = [line["document"]["id"] for line in lines if line["type"] == "document"]
        if not stored:
            raise SmokeStepError(f"indexing {name} failed: {lines[-1] if lines else 'no answer'}")
        try:
            events = self._stream(
                "/chat",
                {
                    "model": self.models[0],
                    "message": QUESTION,
                    "use_documents": True,
                    "parameters": PARAMETERS,
                },
            )
            sources = [s["document_name"] for e in events if e["type"] == "sources" for s in e["sources"]]
            if name not in sources:
                raise SmokeStepError(f"the answer drew on {sources}, not on {name}")
            answer = _answer(events)
        finally:
            _ok(self.target.api.delete(f"/documents/{stored[0]}"))
        said = "names the codeword" if CODEWORD in answer else "does not repeat the codeword"
        return f"{name} indexed; the answer cites it and {said}"

    def _clean_up(self) -> str:
        for session_id in self._sessions:
            _ok(self.target.api.delete(f"/sessions/{session_id}"))
        self.target.remove_user()
        return f"{len(self._sessions)} conversations deleted"

    # -- helpers ----------------------------------------------------------------------------

    def _stream(self, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        events = [
            json.loads(line) for line in _ok(self.target.api.post(path, json=body)).text.splitlines() if line
        ]
        self._sessions += [e["session_id"] for e in events if e["type"] == "session" and "session_id" in e]
        if errors := [e for e in events if e["type"] == "error"]:
            raise SmokeStepError(f"{errors[0].get('code')}: {errors[0].get('message')}")
        if not any(e["type"] == "done" for e in events):
            raise SmokeStepError("the stream ended without a done event")
        return events


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        retry = (
            f" (Retry-After {response.headers['Retry-After']} s)" if "Retry-After" in response.headers else ""
        )
        raise SmokeStepError(
            f"{response.request.method} {response.request.url.path}: {response.status_code}{retry} {response.text[:300]}"
        )
    return response


def _answer(events: list[dict[str, Any]]) -> str:
    return "".join(event["text"] for event in events if event["type"] == "token").strip()[:60]


def table(steps: list[Step]) -> str:
    width = max(len(step.name) for step in steps)
    lines = [f"{'step':<{width}}  result  seconds  detail"]
    for step in steps:
        lines.append(
            f"{step.name:<{width}}  {'PASS' if step.ok else 'FAIL':<6}  {step.seconds:7.1f}  {step.detail}"
        )
    return "\n".join(lines)


# -- where: the local stack, or a deployed one ----------------------------------------------


@contextmanager
def local_target(api_url: str, secret_file: str, user: str) -> Iterator[Target]:
    """The local stack: a token minted with its secret, as the local web app mints one."""
    from chatbot.api.local_tokens import local_secret
    from lambdas.chat_api.auth import LocalTokens

    token = LocalTokens(local_secret(Path(secret_file))).issue(user)
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as api:
        yield Target(api=api, gateway_url=f"{api_url.rstrip('/')}/v1")


def stack_outputs(stack: str) -> dict[str, Any]:
    result = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SmokeStepError(f"pulumi stack output --stack {stack} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


@contextmanager
def aws_target(stack: str, region: str | None) -> Iterator[Target]:
    """The deployed stack: a test user made in its pool and signed in with the admin API (your
    AWS credentials need cognito-idp:Admin* on the pool and lambda:InvokeFunctionUrl)."""
    import boto3

    from streamlit_app.aws_signing import SigV4Auth

    outputs = stack_outputs(stack)
    cognito = boto3.client("cognito-idp", region_name=region)
    pool, client_id = outputs["user_pool_id"], outputs["user_pool_client_id"]
    user, password = f"smoke-{uuid.uuid4().hex[:10]}", f"Sm0ke!{uuid.uuid4().hex}"
    cognito.admin_create_user(
        UserPoolId=pool,
        Username=user,
        MessageAction="SUPPRESS",
        UserAttributes=[
            {"Name": "email", "Value": f"{user}@example.com"},
            {"Name": "email_verified", "Value": "true"},
        ],
    )

    def remove_user() -> None:
        cognito.admin_delete_user(UserPoolId=pool, Username=user)

    try:
        cognito.admin_set_user_password(UserPoolId=pool, Username=user, Password=password, Permanent=True)
        token = _admin_sign_in(cognito, pool, client_id, user, password)
        with httpx.Client(
            base_url=outputs["chat_api_url"].rstrip("/"),
            auth=SigV4Auth(cognito.meta.region_name),
            headers={"X-Id-Token": token},
            timeout=300,
        ) as api:
            yield Target(api=api, gateway_url=outputs["gateway_url"], remove_user=remove_user)
    except BaseException:
        remove_user()
        raise


def _admin_sign_in(cognito: Any, pool: str, client_id: str, user: str, password: str) -> str:
    import base64
    import hashlib
    import hmac

    parameters = {"USERNAME": user, "PASSWORD": password}
    secret = cognito.describe_user_pool_client(UserPoolId=pool, ClientId=client_id)["UserPoolClient"].get(
        "ClientSecret"
    )
    if secret:
        digest = hmac.new(secret.encode(), (user + client_id).encode(), hashlib.sha256).digest()
        parameters["SECRET_HASH"] = base64.b64encode(digest).decode()
    try:
        result = cognito.admin_initiate_auth(
            UserPoolId=pool,
            ClientId=client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters=parameters,
        )
    except cognito.exceptions.InvalidParameterException as exc:
        raise SmokeStepError(
            f"the user pool client refuses the admin sign-in ({exc}): its explicit_auth_flows need "
            "ALLOW_ADMIN_USER_PASSWORD_AUTH (an admin-only flow: it takes IAM credentials)"
        ) from exc
    return result["AuthenticationResult"]["IdToken"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sign in, chat, compare, /v1, a grounded answer; clean up.")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="a deployed stack: its outputs and user pool")
    where.add_argument("--api-url", help="the local stack's chat API (with --local-secret-file)")
    parser.add_argument("--local-secret-file", default=".data/local-auth-secret")
    parser.add_argument("--user", default="smoke-test", help="local mode: the user the token is for")
    parser.add_argument("--region", default=None)
    parser.add_argument("--models", default="", help="comma-separated chat models (default: the first two)")
    args = parser.parse_args(argv)
    models = [name for name in args.models.split(",") if name]
    if args.api_url:
        where_to = local_target(args.api_url, args.local_secret_file, args.user)
    else:
        where_to = aws_target(args.stack, args.region)
    try:
        with where_to as target:
            steps = Smoke(target, models).run()
    except (SmokeStepError, httpx.HTTPError) as exc:
        steps = [Step("sign in", False, 0.0, str(exc))]
    print(table([Step("sign in", True, 0.0, "signed in"), *steps] if steps[0].name != "sign in" else steps))
    return 0 if all(step.ok for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
