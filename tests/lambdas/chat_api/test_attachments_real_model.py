"""An attached text file reaches the real model's prompt (issue 23): the real chat API in its
own process, the local model server counting the prompt's tokens."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from chatbot.api.local_tokens import local_secret
from lambdas.chat_api.auth import LocalTokens
from tests.lambdas.chat_api.conftest import api_env
from tests.servers import chat_api_server

FILE = ("The code word is HELIOTROPE. " * 40).encode()  # about 300 tokens


def prompt_tokens(api: httpx.Client, attachments: list[str]) -> int:
    request = {
        "model": "smollm2-135m",
        "message": "What is the code word?",
        "attachments": attachments,
        "parameters": {"max_new_tokens": 1, "temperature": 0},
    }
    response = api.post("/chat", json=request)
    assert response.status_code == 200, response.text
    [done] = [e for e in map(json.loads, response.text.splitlines()) if e["type"] == "done"]
    return done["usage"]["prompt_tokens"]


def test_an_attached_files_text_is_in_the_prompt_the_model_reads(
    model_server_url: str, postgres_server_url: str, tmp_path: Path
):
    secret = tmp_path / "secret"
    env = api_env(
        model_server_url,
        postgres_server_url,
        secret,
        "attachments_real_model",
        CHATBOT_DATA_DIR=str(tmp_path),
    )
    with chat_api_server(env) as url:
        token = LocalTokens(local_secret(secret)).issue("alice")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as api:
            uploaded = api.post("/attachments", files={"file": ("plan.txt", FILE)})
            assert uploaded.status_code == 201, uploaded.text
            without = prompt_tokens(api, [])
            with_file = prompt_tokens(api, [uploaded.json()["id"]])
    # The model server counted the file's words in the prompt (its own tokenizer's count).
    assert with_file - without > 200
    assert list((tmp_path / "attachments").rglob("file")), "the bytes are in the data folder's blob store"
