"""No input gets a server error: schemathesis fuzzes every operation of the chat API's own
/openapi.json (the streaming ones too), with data that fits the schema and data that breaks it,
against the real running API, its model server and Postgres. Any 5xx fails the test.

Bounded and repeatable: a fixed number of examples per operation and mode, drawn from a fixed
seed (hypothesis' derandomize), so every run sends the same requests and CI cannot flake on it.

(schemathesis' own pytest wrapper needs the schema at collection time or a pytest internal that
pytest 9 removed, so the test drives its strategies with hypothesis directly.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from chatbot.users import UsersFile
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
