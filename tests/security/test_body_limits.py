"""Item 8: the body limit counts the bytes as they arrive, whatever Content-Length says (or
does not say: a chunked body has none), and a body sent slowly is dropped.

Raw sockets against the real API under uvicorn: no HTTP client sends a body this badly."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chatbot.postgres import create_database
from lambdas.chat_api.auth import LocalTokens
from tests.servers import chat_api_server

MB = 1024 * 1024


@pytest.fixture(scope="module")
def api_url(model_server_url: str, postgres_server_url: str, secret_file: Path) -> Iterator[str]:
    """The API with a 1 MB upload limit and short body timeouts; no users file (every signed
    token is a caller)."""
    env = {
        "CHATBOT_MODELS_FILE": "models.yaml",
        "SAGEMAKER_ENDPOINT_URL": model_server_url,
        "DATABASE_URL": create_database(postgres_server_url, "body_limits_tests"),
        "CHATBOT_LOCAL_SECRET_FILE": str(secret_file),
        "CHATBOT_USERS_FILE": str(secret_file.parent / "users.yaml"),
        "MAX_DOCUMENT_MB": "1",
        "CHATBOT_BODY_READ_TIMEOUT_S": "2",
        "CHATBOT_BODY_TIMEOUT_S": "4",
    }
    with chat_api_server(env) as url:
        yield url


class RawRequest:
    """One HTTP/1.1 request written by hand on a socket: headers now, the body as the test likes."""

    def __init__(self, api_url: str, token: str, method: str, path: str, headers: dict[str, str]):
        address = urlsplit(api_url)
        self.socket = socket.create_connection((address.hostname, address.port), timeout=60)
        self.sent = 0
        lines = [f"{method} {path} HTTP/1.1", f"Host: {address.netloc}", f"Authorization: Bearer {token}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.socket.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def answered(self) -> bool:
        return bool(select.select([self.socket], [], [], 0)[0])

    def send(self, data: bytes) -> bool:
        """Sends `data`; False when the server has closed the connection."""
        try:
            self.socket.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return False
        self.sent += len(data)
        return True

    def send_chunk(self, data: bytes) -> bool:
        return self.send(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def status_and_body(self) -> tuple[int, dict]:
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < self._length(answer):
            part = self.socket.recv(65536)
            if not part:
                break
            answer += part
        head, _, body = answer.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(body[: self._length(answer)])

    @staticmethod
    def _length(answer: bytes) -> int:
        for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                return int(value)
        return 1 << 30

    def close(self) -> None:
        self.socket.close()


def chunked_until_answered(request: RawRequest, total: int, chunk: bytes) -> None:
    """Sends chunks until `total` bytes are sent, the server answers, or it closes the connection."""
    while request.sent < total and not request.answered() and request.send_chunk(chunk):
        pass


def test_a_chunked_body_over_the_limit_is_a_413(api_url: str, tokens: LocalTokens):
    request = RawRequest(
        api_url,
        tokens.issue("alice"),
        "POST",
        "/sessions/import",
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    try:
        request.send_chunk(b'{"conversations": [], "padding": "')
        chunked_until_answered(request, 3 * MB, b"x" * 64 * 1024)
        request.send_chunk(b'"}')
        request.send(b"0\r\n\r\n")
        status, body = request.status_and_body()
    finally:
        request.close()
    assert status == 413
    assert body["error"]["code"] == "body_too_large"


def test_a_chunked_upload_is_refused_at_its_limit_not_after_the_whole_body(api_url: str, tokens: LocalTokens):
    boundary = "bound4ry"
    request = RawRequest(
        api_url,
        tokens.issue("alice"),
        "POST",
        "/documents",
        {"Content-Type": f"multipart/form-data; boundary={boundary}", "Transfer-Encoding": "chunked"},
    )
    try:
        request.send_chunk(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n".encode()
        )
        chunked_until_answered(request, 100 * MB, b"word " * 13107)
        status, body = request.status_and_body()
    finally:
        request.close()
    assert status == 413
    assert body["error"]["code"] == "body_too_large"
    # The limit is 1 MB and the form's envelope; what the sockets' buffers hold comes on top.
    assert request.sent < 20 * MB, f"{request.sent / MB:.0f} MB were taken before the 413"


@pytest.mark.parametrize("declared", ["Content-Length: 200", "Transfer-Encoding: chunked"])
def test_a_body_sent_a_byte_at_a_time_is_dropped_with_a_408(api_url: str, tokens: LocalTokens, declared: str):
    name, _, value = declared.partition(": ")
    request = RawRequest(
        api_url, tokens.issue("alice"), "POST", "/chat", {"Content-Type": "application/json", name: value}
    )
    try:
        for _ in range(200):  # at most 200 bytes, a few a second: the server must give up first
            if request.answered():
                break
            byte = b"{"
            if not (request.send_chunk(byte) if value == "chunked" else request.send(byte)):
                break
            time.sleep(0.25)
        status, body = request.status_and_body()
    finally:
        request.close()
    assert status == 408
    assert body["error"]["code"] == "body_timeout"
    assert "Send it again" in body["error"]["message"]
