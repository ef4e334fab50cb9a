"""The one stream parser: bytes from an endpoint in, parsed events out.

A JSON line may be split across PayloadParts, and several lines may share one part.
Bytes are buffered and split on newlines; a multi-byte character split across parts is
kept whole because lines are decoded only once they are complete. The last line is
flushed at the end of the stream even without a trailing newline (the bug that makes
other parsers loop forever: sagemaker-python-sdk #6278, langchain #16219).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from chatbot.models.request_config import EndpointRequestConfig, ParsedChunk


class LineBuffer:
    """Accumulates bytes; hands out complete lines."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._pending += data
        *complete, rest = self._pending.split(b"\n")
        self._pending = bytearray(rest)
        return [bytes(line) for line in complete]

    def flush(self) -> bytes | None:
        """The unterminated last line, if any."""
        rest, self._pending = bytes(self._pending), bytearray()
        return rest if rest.strip() else None


class StreamParser:
    """Turns payload bytes into `ParsedChunk`s using a model's endpoint_req_config."""

    def __init__(self, config: EndpointRequestConfig):
        self._config = config
        self._lines = LineBuffer()

    def feed(self, data: bytes) -> Iterator[ParsedChunk]:
        for line in self._lines.feed(data):
            yield from self._parse(line)

    def finish(self) -> Iterator[ParsedChunk]:
        last = self._lines.flush()
        if last is not None:
            yield from self._parse(last)

    def _parse(self, line: bytes) -> Iterator[ParsedChunk]:
        text = line.decode("utf-8", errors="replace").strip()
        if not text or text.startswith(":"):  # blank lines and SSE comments
            return
        chunk = self._config.parse_line(text)
        if chunk is not None:
            yield chunk


def parse_payloads(config: EndpointRequestConfig, payloads: Iterable[bytes]) -> Iterator[ParsedChunk]:
    """Parse a whole sequence of payload parts (used by tests and recorded streams)."""
    parser = StreamParser(config)
    for payload in payloads:
        yield from parser.feed(payload)
    yield from parser.finish()
