"""The one stream parser, against real recorded streams from the local model server."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.models.request_config import OPENAI_CHAT, TGI
from chatbot.models.stream_parser import LineBuffer, parse_payloads

DATA = Path(__file__).parent / "data"
#: gemma3's stream holds multi-byte characters (猫, “, ’): splits may fall inside them.
RECORDED = (DATA / "tgi_stream_gemma3.txt").read_bytes()


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *sorted(set(cuts)), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(edges)]


def summary(payloads: list[bytes]) -> tuple[str, tuple]:
    chunks = list(parse_payloads(TGI, payloads))
    last = chunks[-1]
    return "".join(chunk.text for chunk in chunks), (
        last.finish_reason,
        last.completion_tokens,
        last.prompt_tokens,
    )


WHOLE_TEXT, FINAL = summary([RECORDED])


def test_the_recorded_stream_parses_to_its_generated_text():
    assert "猫" in WHOLE_TEXT
    assert FINAL == ("length", 40, 30)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(RECORDED) - 1), max_size=60))
def test_any_split_into_payload_parts_yields_the_same_text_and_final_event(cuts: list[int]):
    assert summary(split_at(RECORDED, cuts)) == (WHOLE_TEXT, FINAL)


def test_the_last_line_is_flushed_even_without_a_newline():
    stream = b'data:{"token":{"text":"a","special":false}}\ndata:{"token":{"text":"b","special":false}}'
    assert [chunk.text for chunk in parse_payloads(TGI, [stream])] == ["a", "b"]


def test_blank_lines_comments_and_byte_by_byte_delivery_are_handled():
    stream = (
        b': keep-alive\n\ndata: {"choices":[{"delta":{"content":"\xc3\xa9t\xc3\xa9"}}]}\n\ndata: [DONE]\n'
    )
    chunks = list(parse_payloads(OPENAI_CHAT, [bytes([byte]) for byte in stream]))
    assert [chunk.text for chunk in chunks] == ["été"]


def test_line_buffer_keeps_incomplete_lines():
    buffer = LineBuffer()
    assert buffer.feed(b"one\ntw") == [b"one"]
    assert buffer.feed(b"o\n") == [b"two"]
    assert buffer.flush() is None
