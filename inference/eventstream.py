"""AWS event-stream frames, as InvokeEndpointWithResponseStream sends them.

A frame: total length and headers length (uint32 big-endian), a CRC32 of those 8 bytes,
the headers, the payload, and a CRC32 of everything before it. Headers here are all
strings (type 7): a one-byte name length, the name, the type byte, a two-byte value
length, the value. botocore only decodes these; the AWS encoder needs Python 3.12.
"""

from __future__ import annotations

import json
import struct
import zlib

_STRING_HEADER = 7


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        name_bytes, value_bytes = name.encode(), value.encode()
        out += struct.pack(">B", len(name_bytes)) + name_bytes
        out += struct.pack(">BH", _STRING_HEADER, len(value_bytes)) + value_bytes
    return bytes(out)


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    header_bytes = _headers(headers)
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack(">II", total, len(header_bytes))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + header_bytes + payload
    return message + struct.pack(">I", zlib.crc32(message))


def payload_part(data: bytes) -> bytes:
    """One `PayloadPart` event carrying a piece of the model's response."""
    return encode_frame(
        {
            ":event-type": "PayloadPart",
            ":content-type": "application/octet-stream",
            ":message-type": "event",
        },
        data,
    )


def model_stream_error(message: str, error_code: str = "ModelStreamError") -> bytes:
    """The exception frame SageMaker sends when the model's stream fails part-way;
    boto3 raises it as an EventStreamError while the caller iterates."""
    return encode_frame(
        {
            ":exception-type": "ModelStreamError",
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"Message": message, "ErrorCode": error_code}).encode(),
    )
