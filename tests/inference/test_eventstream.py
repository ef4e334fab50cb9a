"""The event-stream encoder, proven by botocore's own decoder."""

from __future__ import annotations

import json

from botocore.eventstream import EventStreamBuffer

from inference.eventstream import model_stream_error, payload_part


def decode(data: bytes) -> list:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_payload_parts_decode_with_botocore_checksums_and_headers():
    first, second = decode(payload_part(b'data:{"a":1}\n\n') + payload_part("é".encode()))
    assert first.headers == {
        ":event-type": "PayloadPart",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert first.payload == b'data:{"a":1}\n\n'
    assert second.payload == "é".encode()


def test_model_stream_errors_are_exception_frames():
    (frame,) = decode(model_stream_error("boom"))
    assert frame.headers[":message-type"] == "exception"
    assert frame.headers[":exception-type"] == "ModelStreamError"
    assert json.loads(frame.payload) == {"Message": "boom", "ErrorCode": "ModelStreamError"}
