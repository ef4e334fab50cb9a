"""Tools in a chat, with real components: a real MCP calculator on 127.0.0.1 registered by an
administrator, the real chat API, the local model server (called as a Bedrock model) and Postgres.
A forced call, its result, then the final answer, streamed as events and saved in history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest

from chatbot.api.users import UsersFile
from lambdas.chat_api.auth import LocalTokens
from launcher.processes import free_port
from tests.chatbot.tools.mcp_calculator import running_calculator

MODEL = "smollm2-135m-bedrock"
ADD_SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}


@pytest.fixture(scope="module")
def root(api_url: str, tokens: LocalTokens, secret_file: Path) -> Iterator[httpx.Client]:
    UsersFile(secret_file.parent / "users.yaml").add("root", "roots password", admin=True)
    token = tokens.issue("root", roles=("admin",))
    with (
        running_calculator() as url,
        httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client,
    ):
        # The calculator listens on the loopback: an administrator allows private ranges for it.
        assert client.put("/mcp-servers/calc", json={"url": url, "allow_private": True}).status_code == 200
        down = f"http://127.0.0.1:{free_port()}/mcp"
        assert client.put("/mcp-servers/ledger", json={"url": down, "allow_private": True}).status_code == 200
        yield client


def chat(client: httpx.Client, **body) -> list[dict]:
    request = {"model": MODEL, "parameters": {"max_new_tokens": 40, "temperature": 0}, **body}
    with client.stream("POST", "/chat", json=request) as response:
        assert response.status_code == 200, response.read()
        return [json.loads(line) for line in response.iter_lines() if line]


def test_a_forced_call_its_result_and_the_final_answer_are_streamed_and_saved(root: httpx.Client):
    events = chat(root, message="What is 2 plus 3?", tools=["calc/add"], tool_choice="calc/add")
    kinds = [event["type"] for event in events]
    assert kinds[:4] == ["session", "start", "tool_call", "tool_result"], kinds
    assert kinds[-1] == "done"
    call, result = events[2], events[3]
    assert call["name"] == "add"
    assert call["server"] == "calc"
    jsonschema.validate(call["arguments"], ADD_SCHEMA)
    expected = str(call["arguments"]["a"] + call["arguments"]["b"])
    assert result == {**result, "id": call["id"], "content": expected, "is_error": False}
    answer = "".join(event["text"] for event in events if event["type"] == "token")
    assert answer.strip(), "the model answered from the result"

    conversation = root.get(f"/sessions/{events[0]['session_id']}").json()
    saved = conversation["messages"][-1]
    assert saved["role"] == "assistant"
    assert saved["content"] == answer
    [step] = saved["tool_steps"]
    assert step["name"] == "add"
    assert step["arguments"] == call["arguments"]
    assert step["result"] == expected


def test_a_server_that_is_down_is_named_before_anything_is_saved(root: httpx.Client):
    # Its tools cannot even be listed; a server that goes down mid-answer ends it with an error
    # event that names it (tests/chatbot/tools/test_tool_loop.py).
    sessions = root.get("/sessions").json()["sessions"]
    response = root.post("/chat", json={"model": MODEL, "message": "Hi", "tools": ["ledger/add"]})
    assert response.status_code == 502, response.text
    assert "The MCP server 'ledger' failed" in response.text
    assert root.get("/sessions").json()["sessions"] == sessions


def test_a_tool_not_offered_to_the_user_is_refused_before_anything_is_saved(root: httpx.Client):
    response = root.post("/chat", json={"model": MODEL, "message": "Hi", "tools": ["calc/divide"]})
    assert response.status_code == 422, response.text
    assert "no tool 'divide'" in response.text
    response = root.post("/chat", json={"model": MODEL, "message": "Hi", "tools": ["nowhere/add"]})
    assert response.status_code == 422
    assert "from GET /tools" in response.text


def test_a_model_without_tools_is_refused(root: httpx.Client):
    response = root.post("/chat", json={"model": "gemma3-270m", "message": "Hi", "tools": ["calc/add"]})
    assert response.status_code == 422
    assert "does not take tools" in response.text
