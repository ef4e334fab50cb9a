"""Item 9: one user cannot take every model slot. Each user may have a few answers streaming
at once (here 2; each lane of a compare counts); past that, a 429 that says so. The leases are
in the store, so the cap holds across processes; a stream gives its lease back when it ends,
is stopped, or its client goes away."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.lambdas.chat_api.conftest import api_env
from tests.lambdas.chat_api.test_app import long_answer
from tests.servers import chat_api_server
from tests.waiting import eventually

CAP = 2


@pytest.fixture(scope="module")
def api_url(model_server_url: str, postgres_server_url: str, secret_file: Path) -> Iterator[str]:
    env = api_env(
        model_server_url,
        postgres_server_url,
        secret_file,
        "stream_fairness_tests",
        CHATBOT_MAX_STREAMS_PER_USER=str(CAP),
        CHATBOT_DOCUMENTS="off",
    )
    with chat_api_server(env) as url:
        yield url


@pytest.fixture(scope="module")
def long_chat(catalog, runtime_client) -> dict:
    message = "Tell me a long story about a lighthouse."
    return {
        "model": "smollm2-135m",
        "message": message,
        "parameters": long_answer(catalog, runtime_client, message, 300),
    }


class Stream:
    """A started chat stream (its session event read)."""

    def __init__(self, client: httpx.Client, body: dict):
        self.response = client.send(client.build_request("POST", "/chat", json=body), stream=True)
        assert self.response.status_code == 200, self.response.read()
        self.lines = self.response.iter_lines()
        self.session_id = json.loads(next(self.lines))["session_id"]

    def read_to_the_end(self) -> list[str]:
        lines = [line for line in self.lines if line]
        self.response.close()
        return lines


def test_a_user_at_the_cap_gets_a_429_and_another_users_chat_still_runs(member, long_chat):
    alice, bob = member("alice"), member("bob")
    streams = [Stream(alice, long_chat) for _ in range(CAP)]
    try:
        refused = alice.post("/chat", json={**long_chat, "parameters": {"max_new_tokens": 2}})
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_streams"
        assert f"at once that one person may: {CAP}" in refused.json()["error"]["message"]
        compare = alice.post("/compare", json={"models": ["smollm2-135m", "gemma3-270m"], "message": "Hi"})
        assert compare.status_code == 429
        gateway = alice.post(
            "/v1/chat/completions",
            json={"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2},
        )
        assert gateway.status_code == 429
        assert gateway.json()["error"]["type"] == "rate_limit_error"

        answer = bob.post(
            "/chat", json={"model": "smollm2-135m", "message": "Hi", "parameters": {"max_new_tokens": 2}}
        )
        assert answer.status_code == 200
        assert json.loads(answer.text.splitlines()[-1])["type"] == "done"
    finally:
        for stream in streams:
            alice.post(f"/sessions/{stream.session_id}/stop")
            stream.read_to_the_end()  # the stream has ended, and given its lease back
    after_stop = alice.post("/chat", json={**long_chat, "parameters": {"max_new_tokens": 2}})
    assert after_stop.status_code == 200, after_stop.text


def test_a_stream_whose_client_went_away_gives_its_lease_back(member, long_chat):
    carol = member("carol")
    for stream in [Stream(carol, long_chat) for _ in range(CAP)]:
        stream.response.close()  # the client goes away mid-answer
    short = {**long_chat, "parameters": {"max_new_tokens": 2}}
    answered = eventually(
        lambda: carol.post("/chat", json=short).status_code, until=lambda status: status != 429
    )
    assert answered == 200
