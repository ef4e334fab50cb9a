"""Errors carry their HTTP status: each class declares it, and the API answers with it."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg2

import lambdas.chat_api.app
import lambdas.chat_api.wiring  # noqa: F401  (with app.py: every module whose errors the API can meet)
from chatbot.api.local_tokens import local_secret
from chatbot.errors import ChatbotError, http_status_of
from chatbot.postgres import create_database
from lambdas.chat_api.auth import LocalTokens
from tests.servers import chat_api_server


def error_classes() -> list[type[ChatbotError]]:
    found, pending = [], [ChatbotError]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(current.__subclasses__())
    return found


def test_every_error_class_declares_its_own_code_and_http_status():
    classes = error_classes()
    assert len(classes) > 20, "the app's modules define the whole tree"
    for error in classes:
        assert "code" in vars(error), f"{error.__qualname__} declares no code of its own"
        assert "http_status" in vars(error), f"{error.__qualname__} declares no http_status of its own"
        assert 400 <= error.http_status < 600, error


def test_each_code_names_one_error_class():
    codes = [error.code for error in error_classes()]
    assert len(codes) == len(set(codes)), sorted(code for code in codes if codes.count(code) > 1)


def test_an_error_that_arrives_as_an_event_code_gets_its_class_status():
    for error in error_classes():
        assert http_status_of(error.code) == error.http_status, error.__qualname__
    assert http_status_of("a_code_no_class_declares") == 500


def test_the_api_answers_503_with_what_to_do_when_the_database_goes_away(
    model_server_url: str, postgres_server_url: str, tmp_path: Path
):
    database = create_database(postgres_server_url, "chat_api_database_goes_away")
    secret = tmp_path / "secret"
    env = {
        "CHATBOT_MODELS_FILE": "models.yaml",
        "SAGEMAKER_ENDPOINT_URL": model_server_url,
        "DATABASE_URL": database,
        "CHATBOT_LOCAL_SECRET_FILE": str(secret),
        "CHATBOT_DOCUMENTS": "off",
    }
    with chat_api_server(env) as url:
        token = LocalTokens(local_secret(secret)).issue("alice")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            assert client.get("/sessions").status_code == 200  # the pool now holds a live connection
            admin = psycopg2.connect(postgres_server_url)
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute("DROP DATABASE chat_api_database_goes_away WITH (FORCE)")
            admin.close()

            lost = client.get("/sessions")  # on the connection the server just cut
            assert lost.status_code == 503, lost.text
            assert lost.json()["error"]["code"] == "database_unavailable"
            assert "Try again in a moment" in lost.json()["error"]["message"]

            gone = client.get("/sessions")  # a new connection to a database that is no more
            assert gone.status_code == 503, gone.text
            assert "Check DATABASE_URL" in gone.json()["error"]["message"]
