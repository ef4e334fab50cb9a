"""A non-streamed /v1 answer that takes longer than CloudFront's origin read timeout arrives whole.

CloudFront waits at most 60 s for the origin's next bytes, then answers 504; the openai SDK and
LangChain default to `stream: false`, so a long answer would be sent only when done. Here the real
chat API answers through a local proxy that enforces the same contract (a 504 when no byte came
for `IDLE_TIMEOUT_S`), with a stand-in Bedrock model whose Converse answer blocks for longer than
that. Times are CloudFront's scaled down (90 s answer, 60 s timeout, 15 s heartbeat -> 2.5, 1, 0.1):
the test asserts what arrives, never how long it took."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openai
import pytest
import yaml

from chatbot.api.local_tokens import local_secret
from chatbot.postgres import create_database
from lambdas.chat_api.auth import LocalTokens
from tests.servers import chat_api_server, free_port

ANSWER_DELAY_S = 2.5
IDLE_TIMEOUT_S = 1.0
HEARTBEAT_S = 0.1
SLOW_MODEL = {
    "name": "slow-bedrock",
    "model_id": "stand-in/slow",
    "context_window": 2048,
    "streaming": "none",
    "deployment": {"kind": "bedrock", "model_id": "slow-model"},
}


class SlowBedrock(BaseHTTPRequestHandler):
    """Bedrock Runtime's Converse (`POST /model/{id}/converse`), answering after ANSWER_DELAY_S."""

    def do_GET(self) -> None:
        self.send_response(200)  # /ping: the chat API's "is the model server up" check
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(ANSWER_DELAY_S)
        body = json.dumps(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": "a slow, whole answer"}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 7, "outputTokens": 5, "totalTokens": 12},
                "metrics": {"latencyMs": int(ANSWER_DELAY_S * 1000)},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture(scope="module")
def slow_bedrock() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowBedrock)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def relay_with_idle_timeout(client: socket.socket, origin_port: int) -> None:
    """One connection through the proxy: CloudFront's origin read timeout, as AWS documents it
    (how long it waits for the first byte, and for each next one, before it gives up with a 504)."""
    origin = socket.create_connection(("127.0.0.1", origin_port))

    def upstream() -> None:
        try:
            while data := client.recv(65536):
                origin.sendall(data)
        except OSError:
            pass

    threading.Thread(target=upstream, daemon=True).start()
    origin.settimeout(IDLE_TIMEOUT_S)
    sent = False
    try:
        while data := origin.recv(65536):
            client.sendall(data)
            sent = True
    except TimeoutError:
        if not sent:
            client.sendall(b"HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    finally:
        origin.close()
        client.close()


@pytest.fixture(scope="module")
def proxy_to() -> Iterator:
    """proxy_to(url) -> the URL of a proxy in front of it with the idle timeout."""
    listeners: list[socket.socket] = []

    def start(url: str) -> str:
        origin_port = int(url.rsplit(":", 1)[1])
        listener = socket.create_server(("127.0.0.1", free_port()))
        listeners.append(listener)

        def accept() -> None:
            while True:
                try:
                    client, _ = listener.accept()
                except OSError:
                    return
                threading.Thread(
                    target=relay_with_idle_timeout, args=(client, origin_port), daemon=True
                ).start()

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    for listener in listeners:
        listener.close()


def chat_api(tmp: Path, slow_bedrock: str, postgres_server_url: str, heartbeat_s: float):
    models = tmp / "models.yaml"
    models.write_text(yaml.safe_dump({"models": [SLOW_MODEL]}))
    env = {
        "CHATBOT_MODELS_FILE": str(models),
        "SAGEMAKER_ENDPOINT_URL": slow_bedrock,
        "DATABASE_URL": create_database(postgres_server_url, "gateway_heartbeat_tests"),
        "CHATBOT_LOCAL_SECRET_FILE": str(tmp / "local-auth-secret"),
        "CHATBOT_USERS_FILE": str(tmp / "users.yaml"),
        "CHATBOT_DOCUMENTS": "false",
        "CHATBOT_GATEWAY_HEARTBEAT_S": str(heartbeat_s),
    }
    return chat_api_server(env)


def ask(base_url: str, tmp: Path) -> openai.types.chat.ChatCompletion:
    token = LocalTokens(local_secret(tmp / "local-auth-secret")).issue("alice")
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key=token, max_retries=0, timeout=60) as client:
        return client.chat.completions.create(
            model="slow-bedrock", messages=[{"role": "user", "content": "take your time"}], stream=False
        )


def test_an_answer_slower_than_the_idle_timeout_arrives_whole_behind_heartbeats(
    tmp_path: Path, slow_bedrock: str, postgres_server_url: str, proxy_to
):
    with chat_api(tmp_path, slow_bedrock, postgres_server_url, HEARTBEAT_S) as url:
        completion = ask(proxy_to(url), tmp_path)
    assert completion.choices[0].message.content == "a slow, whole answer"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 12


def test_without_heartbeats_the_proxy_ends_the_same_answer_with_a_504(
    tmp_path: Path, slow_bedrock: str, postgres_server_url: str, proxy_to
):
    """The control: the proxy does enforce the timeout, so the test above can fail."""
    with (
        chat_api(tmp_path, slow_bedrock, postgres_server_url, heartbeat_s=600) as url,
        pytest.raises(openai.InternalServerError) as refused,
    ):
        ask(proxy_to(url), tmp_path)
    assert refused.value.status_code == 504
