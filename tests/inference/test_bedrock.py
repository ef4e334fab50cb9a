"""The model server speaks Bedrock's Converse API: boto3's real bedrock-runtime client and
langchain-aws's ChatBedrockConverse work against both local models unchanged."""

from __future__ import annotations

import pytest
from botocore.eventstream import EventStream
from botocore.exceptions import ClientError, EventStreamError
from botocore.parsers import EventStreamJSONParser
from langchain_aws import ChatBedrockConverse

from chatbot.models.clients import bedrock_runtime_client
from inference.bedrock import event_frame, exception_frame
from tests.model_counters import after_cancel, counters
from tests.sampling import seed_where

MODELS = ["smollm2-135m", "gemma3-270m"]
#: Pinned sampling (the server takes these in additionalModelRequestFields), so answers repeat.
PINNED = {"seed": 5}


@pytest.fixture(scope="module")
def bedrock(model_server_url: str):
    """boto3's real bedrock-runtime client, no retries, pointed at the local model server."""
    return bedrock_runtime_client(endpoint_url=model_server_url, max_attempts=1)


def user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


def converse_error(bedrock, **request) -> ClientError:
    request = {"modelId": "smollm2-135m", "messages": [user("Hi")], **request}
    with pytest.raises(ClientError) as error:
        bedrock.converse(**request)
    return error.value


@pytest.mark.parametrize("model", MODELS)
def test_converse_answers_with_bedrocks_response_shape(bedrock, model: str):
    response = bedrock.converse(
        modelId=model,
        messages=[user("What is the capital of France?")],
        inferenceConfig={"maxTokens": 12, "temperature": 0},  # greedy: never an empty answer
        additionalModelRequestFields=PINNED,
    )
    message = response["output"]["message"]
    assert message["role"] == "assistant"
    assert message["content"][0]["text"].strip()
    assert response["stopReason"] in ("end_turn", "max_tokens")
    usage = response["usage"]
    assert usage["inputTokens"] > 10
    assert 0 < usage["outputTokens"] <= 12
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["metrics"]["latencyMs"] >= 0


@pytest.mark.parametrize("model", MODELS)
def test_converse_stream_sends_bedrocks_events_in_order(bedrock, model: str):
    response = bedrock.converse_stream(
        modelId=model,
        messages=[user("Count to ten.")],
        system=[{"text": "You are terse."}],
        inferenceConfig={"maxTokens": 16, "temperature": 0},  # greedy: never an empty answer
        additionalModelRequestFields=PINNED,
    )
    events = list(response["stream"])
    names = [next(iter(event)) for event in events]
    assert names[0] == "messageStart"
    assert events[0]["messageStart"] == {"role": "assistant"}
    assert names[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert set(names[1:-3]) == {"contentBlockDelta"}
    assert len(names) > 5, "text arrives as it is decoded"
    assert events[-2]["messageStop"]["stopReason"] in ("end_turn", "max_tokens")
    assert 0 < events[-1]["metadata"]["usage"]["outputTokens"] <= 16


def test_streaming_and_blocking_give_the_same_greedy_answer(bedrock):
    request = {
        "modelId": "gemma3-270m",
        "messages": [user("Name three colours.")],
        "inferenceConfig": {"maxTokens": 20, "temperature": 0},
    }
    blocking = bedrock.converse(**request)["output"]["message"]["content"][0]["text"]
    streamed = "".join(
        event["contentBlockDelta"]["delta"]["text"]
        for event in bedrock.converse_stream(**request)["stream"]
        if "contentBlockDelta" in event
    )
    assert streamed == blocking


def test_the_adapters_stop_words_end_the_answer_unseen(bedrock):
    # Gemma 3 270M is a base model: its adapter writes a "User:/Assistant:" transcript, and the
    # transcript's next "User:" line ends the answer as end_turn, never shown.
    response = bedrock.converse(
        modelId="gemma3-270m",
        messages=[user("Hello!"), {"role": "assistant", "content": [{"text": "Hi."}]}, user("Say more.")],
        inferenceConfig={"maxTokens": 200, "temperature": 1.0},
        additionalModelRequestFields={"seed": 2},
    )
    text = response["output"]["message"]["content"][0]["text"]
    assert "\nUser:" not in text
    assert "\nAssistant:" not in text


def test_a_callers_stop_sequence_ends_the_answer_as_stop_sequence(bedrock):
    # Greedy SmolLM2 lists Monday to Sunday for this prompt.
    response = bedrock.converse(
        modelId="smollm2-135m",
        messages=[user("List the days of the week.")],
        inferenceConfig={"maxTokens": 60, "temperature": 0, "stopSequences": ["Wednesday"]},
    )
    text = response["output"]["message"]["content"][0]["text"]
    assert "Tuesday" in text
    assert "Wednesday" not in text
    assert response["stopReason"] == "stop_sequence", text


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"modelId": "gpt-9"}, "The provided model identifier is invalid: 'gpt-9'"),
        (
            {"messages": [{"role": "assistant", "content": [{"text": "Hi"}]}]},
            "A conversation must start with a user message",
        ),
        ({"messages": [user("a"), user("b")]}, "alternate between user and assistant"),
        ({"inferenceConfig": {"maxTokens": 5000}}, "exceeds the model limit of 1024"),
        ({"messages": [user("word " * 2000)]}, "Input is too long for requested model"),
        ({"additionalModelRequestFields": {"top_n": 3}}, "additionalModelRequestFields.top_n"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": b"x"}}}]}
                ]
            },
            "text, toolUse and toolResult content blocks only",
        ),
        (
            {
                "modelId": "gemma3-270m",  # its catalog entry does not say tools: true
                "toolConfig": {"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {}}}}]},
            },
            "doesn't support tool use",
        ),
    ],
)
def test_requests_bedrock_would_refuse_are_validation_exceptions(bedrock, request_fields: dict, message: str):
    error = converse_error(bedrock, **request_fields)
    assert error.response["Error"]["Code"] == "ValidationException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in error.response["Error"]["Message"]


def test_closing_the_stream_stops_decoding(bedrock, model_server_url: str):
    story = {"modelId": "smollm2-135m", "messages": [user("Tell a long story.")]}
    # A draw proven to run past 40 tokens, so the stream cannot end before it is closed.
    seed = seed_where(
        lambda seed: (
            bedrock.converse(
                **story,
                inferenceConfig={"maxTokens": 40, "temperature": 1.0},
                additionalModelRequestFields={"seed": seed},
            )["stopReason"]
            == "max_tokens"
        ),
        "a Converse answer of 40+ tokens",
    )
    before = counters(model_server_url, "smollm2-135m")
    stream = bedrock.converse_stream(
        **story,
        inferenceConfig={"maxTokens": 1000, "temperature": 1.0},
        additionalModelRequestFields={"seed": seed},
    )["stream"]
    for _ in zip(range(4), stream, strict=False):
        pass
    stream.close()
    after = after_cancel(model_server_url, "smollm2-135m", before)
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["tokens_generated"] - before["tokens_generated"] < 40


def _parsed(bedrock, frames: bytes) -> EventStream:
    """boto3's own ConverseStream parsing, over frames this server writes."""
    shape = bedrock.meta.service_model.operation_model("ConverseStream").output_shape.members["stream"]

    class Raw:
        def stream(self):  # in odd-sized pieces, as a network delivers them
            for start in range(0, len(frames), 7):
                yield frames[start : start + 7]

    return EventStream(Raw(), shape, EventStreamJSONParser(), "ConverseStream")


def test_a_failure_part_way_is_an_exception_frame_boto3_raises(bedrock):
    frames = event_frame("messageStart", {"role": "assistant"}) + exception_frame(
        "modelStreamErrorException", "The model failed part-way: out of memory"
    )
    events = iter(_parsed(bedrock, frames))
    assert next(events) == {"messageStart": {"role": "assistant"}}
    with pytest.raises(EventStreamError) as error:
        next(events)
    assert error.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert "out of memory" in error.value.response["Error"]["Message"]


@pytest.mark.parametrize("model", MODELS)
def test_langchain_aws_chat_bedrock_converse_invokes_and_streams(model_server_url: str, model: str):
    chat = ChatBedrockConverse(
        model=model,
        provider="local",
        disable_streaming=False,  # langchain-aws streams only providers it knows of unless told
        endpoint_url=model_server_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        max_tokens=12,
        temperature=0,  # greedy: never an empty answer
        additional_model_request_fields=PINNED,
    )
    answer = chat.invoke("What is the capital of France?")
    assert answer.content.strip()
    assert 0 < answer.usage_metadata["output_tokens"] <= 12
    chunks = list(chat.stream("Name a colour."))
    streamed = "".join(chunk.text for chunk in chunks)
    assert streamed.strip()
    assert len(chunks) > 2
