"""No input gets a server error: schemathesis fuzzes every operation of the chat API's own
/openapi.json (the streaming ones too), with data that fits the schema and data that breaks it,
against the real running API, its model server and Postgres. Any 5xx fails the test.

Bounded and repeatable: a fixed number of examples per operation and mode, drawn from a fixed
seed (hypothesis' derandomize), so every run sends the same requests and CI cannot flake on it.

Then the hostile strategy: every operation with a JSON body (the /v1 gateway's included) gets
requests that fit its schema, with any of their strings or numbers swapped for what once gave
500s: lone surrogates, NULs, huge numbers; sent under case variants of the JSON Content-Type.

(schemathesis' own pytest wrapper needs the schema at collection time or a pytest internal that
pytest 9 removed, so the test drives its strategies with hypothesis directly.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from chatbot.api.users import UsersFile
from lambdas.chat_api.auth import LocalTokens

#: Examples per operation and mode: enough to reach every operation's validation, bounded for CI.
EXAMPLES = 15


@pytest.fixture(scope="module")
def operations(api_url: str) -> list:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_every_route_of_the_app_is_fuzzed(operations: list):
    routes = {f"{operation.method.upper()} {operation.path}" for operation in operations}
    assert {
        "POST /chat",
        "POST /compare",
        "GET /sessions",
        "PATCH /sessions/{session_id}",
        "POST /documents",
    } <= routes


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_gets_a_server_error(
    operations: list, tokens: LocalTokens, secret_file: Path, mode: GenerationMode
):
    # An administrator of the users file, so that the administrators' routes take the requests in.
    UsersFile(secret_file.parent / "users.yaml").add("fuzzer", "the fuzzer's password", admin=True)
    headers = {"Authorization": f"Bearer {tokens.issue('fuzzer', roles=['admin'])}"}
    server_errors: list[str] = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def no_server_error(case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=120)

        try:
            no_server_error()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE, f"{operation.label}: no request fits its own schema"
            # Nothing in this operation's request can break its schema (no body, only free-text
            # path parameters): there is no negative case to send.
        except Exception as failure:
            server_errors.append(f"{operation.label}: {failure}")
    assert not server_errors, "\n\n".join(server_errors)


#: Text no store can keep (lone surrogates, NULs) and numbers no column or parameter holds.
HUGE_NUMBERS = st.sampled_from([10**400, -(10**400), 2**63, 2**64 + 1, 1e308, -1e308, 5e-324])
HOSTILE_TEXT = st.one_of(
    st.sampled_from(["\ud800", "a\udfffb", "\udc00\ud800", "\x00", "a\x00\ud800", "9" * 400, "1e999"]),
    st.text(st.characters(categories=["Cs", "Cc"]), min_size=1, max_size=4),
    st.text(min_size=1, max_size=20).map(lambda text: text + "\ud83d"),  # half an emoji's pair
)
JSON_CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "APPLICATION/JSON;charset=UTF-8",
    ]
)


def _hostile(value: Any, draw) -> Any:
    """`value`, with any of its strings and numbers (at any depth) swapped for hostile ones."""
    if isinstance(value, dict):
        return {key: _hostile(item, draw) for key, item in value.items()}
    if isinstance(value, list):
        return [_hostile(item, draw) for item in value]
    if isinstance(value, str):
        return draw(st.one_of(st.just(value), HOSTILE_TEXT, HUGE_NUMBERS))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return draw(st.one_of(st.just(value), HUGE_NUMBERS))
    return value


def test_hostile_strings_and_numbers_in_every_field_get_no_server_error(
    operations: list, tokens: LocalTokens, secret_file: Path, api_url: str
):
    UsersFile(secret_file.parent / "users.yaml").add("fuzzer", "the fuzzer's password", admin=True)
    headers = {"Authorization": f"Bearer {tokens.issue('fuzzer', roles=['admin'])}"}
    json_operations = [
        operation
        for operation in operations
        if operation.body and any(body.media_type == "application/json" for body in operation.body)
    ]
    assert any(operation.path.startswith("/v1/") for operation in json_operations)
    server_errors: list[str] = []
    with httpx.Client(base_url=api_url, timeout=120) as client:
        for operation in json_operations:

            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(
                case=operation.as_strategy(
                    generation_mode=GenerationMode.POSITIVE, media_type="application/json"
                ),
                data=st.data(),
                content_type=JSON_CONTENT_TYPES,
            )
            def no_server_error(case, data, content_type: str) -> None:
                body = _hostile(case.body, data.draw)
                response = client.request(
                    case.method,
                    case.formatted_path,
                    params=case.query,
                    # ensure_ascii: a lone surrogate travels as its \u escape, as any JSON encoder sends it
                    content=json.dumps(body, ensure_ascii=True).encode(),
                    headers={**headers, "Content-Type": content_type},
                )
                response.read()
                assert response.status_code < 500, (
                    f"{response.status_code} for {body!r}: {response.text[:300]}"
                )

            try:
                no_server_error()
            except Exception as failure:
                server_errors.append(f"{operation.label}: {failure}")
    assert not server_errors, "\n\n".join(server_errors)
