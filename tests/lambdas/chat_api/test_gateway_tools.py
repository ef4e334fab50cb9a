"""Tools through the OpenAI-compatible gateway: the official `openai` client and LangChain's
ChatOpenAI.bind_tools against the real chat API, the local model server behind it (called as a
Bedrock model), and Postgres."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import jsonschema
import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

#: The catalog's model that takes tools through the Converse API.
MODEL = "smollm2-135m-bedrock"
ADD_SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}
ADD = {
    "type": "function",
    "function": {"name": "add", "description": "Add two integers.", "parameters": ADD_SCHEMA},
}
NAMED = {"type": "function", "function": {"name": "add"}}
GREEDY = {"max_tokens": 60, "temperature": 0}


@pytest.fixture
def key(alice: httpx.Client) -> Iterator[str]:
    response = alice.post("/api-keys", json={"name": "tools"})
    assert response.status_code == 201, response.text
    yield response.json()["key"]
    assert alice.delete(f"/api-keys/{response.json()['info']['id']}").status_code == 200


@pytest.fixture
def gpt(api_url: str, key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{api_url}/v1", api_key=key, max_retries=0, timeout=60) as client:
        yield client


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_a_named_tool_comes_back_as_a_tool_call_whose_arguments_match_the_schema(gpt: openai.OpenAI):
    completion = gpt.chat.completions.create(
        model=MODEL, messages=ask("What is 2 plus 3?"), tools=[ADD], tool_choice=NAMED, **GREEDY
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "add"
    jsonschema.validate(json.loads(call.function.arguments), ADD_SCHEMA)
    assert completion.usage.completion_tokens > 0


def test_a_streamed_call_arrives_as_openai_deltas(gpt: openai.OpenAI):
    stream = gpt.chat.completions.create(
        model=MODEL, messages=ask("Add 40 and 2."), tools=[ADD], tool_choice="required", stream=True, **GREEDY
    )
    chunks = list(stream)
    deltas = [call for chunk in chunks if chunk.choices for call in chunk.choices[0].delta.tool_calls or []]
    assert deltas[0].id
    assert deltas[0].function.name == "add"
    arguments = "".join(delta.function.arguments or "" for delta in deltas)
    jsonschema.validate(json.loads(arguments), ADD_SCHEMA)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_the_result_goes_back_as_a_tool_message_and_the_model_answers(gpt: openai.OpenAI):
    call = {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}
    completion = gpt.chat.completions.create(
        model=MODEL,
        messages=[
            *ask("What is 2 plus 3?"),
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "5"},
        ],
        tools=[ADD],
        tool_choice="none",
        **GREEDY,
    )
    choice = completion.choices[0]
    assert choice.finish_reason in ("stop", "length")
    assert choice.message.content.strip()
    assert not choice.message.tool_calls


def test_langchain_bind_tools_gets_a_parsed_tool_call(api_url: str, key: str):
    class Add(BaseModel):
        """Add two integers."""

        a: int = Field(description="the first")
        b: int = Field(description="the second")

    chat = ChatOpenAI(
        model=MODEL, base_url=f"{api_url}/v1", api_key=key, temperature=0, max_tokens=60, max_retries=0
    )
    message = chat.bind_tools([Add], tool_choice="Add").invoke("What is 2 plus 3?")
    [call] = message.tool_calls
    assert call["name"] == "Add"
    Add.model_validate(call["args"])


def test_a_tool_schema_that_is_not_json_schema_is_a_400(gpt: openai.OpenAI):
    broken = {"type": "function", "function": {"name": "add", "parameters": {"type": "integer-ish"}}}
    with pytest.raises(openai.BadRequestError) as error:
        gpt.chat.completions.create(model=MODEL, messages=ask("Hi"), tools=[broken])
    assert "not valid JSON Schema" in error.value.message


def test_a_model_without_tools_is_a_400_that_says_so(gpt: openai.OpenAI):
    with pytest.raises(openai.BadRequestError, match="gemma3-270m does not take tools"):
        gpt.chat.completions.create(model="gemma3-270m", messages=ask("Hi"), tools=[ADD])


def test_a_choice_naming_no_offered_tool_is_a_400(gpt: openai.OpenAI):
    with pytest.raises(openai.BadRequestError, match="not among the tools"):
        gpt.chat.completions.create(
            model=MODEL,
            messages=ask("Hi"),
            tools=[ADD],
            tool_choice={"type": "function", "function": {"name": "divide"}},
        )
