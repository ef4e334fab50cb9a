"""A deployable's settings are one model: read from the environment, and written back to it by
the Pulumi program with the same names."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from chatbot.postgres import DatabaseSettings
from chatbot.retrieval.settings import RetrievalEnvironment
from lambdas.chat_api.settings import ChatApiSettings
from lambdas.document_indexer.settings import IndexerSettings
from streamlit_app.settings import UiSettings


def test_what_the_program_writes_the_app_reads_back():
    written = ChatApiSettings(
        history_table="history-1",
        models_table="models-1",
        auth="cognito",
        cognito_user_pool_id="us-east-1_abc",
        cognito_client_id="client",
        documents=False,
        database=DatabaseSettings(host="db.example", port=5433, name="chatbot", secret_arn="arn:secret"),
    )
    env = written.to_env()
    assert env == {
        "CHATBOT_HISTORY_TABLE": "history-1",
        "CHATBOT_MODELS_TABLE": "models-1",
        "CHATBOT_AUTH": "cognito",
        "COGNITO_USER_POOL_ID": "us-east-1_abc",
        "COGNITO_CLIENT_ID": "client",
        "CHATBOT_DOCUMENTS": "false",
        "DB_HOST": "db.example",
        "DB_PORT": "5433",
        "DB_NAME": "chatbot",
        "DB_SECRET_ARN": "arn:secret",
    }
    assert ChatApiSettings.from_env(env) == written


def test_only_what_was_set_is_written_so_lambda_reserved_names_stay_out():
    assert "AWS_REGION" not in ChatApiSettings(history_table="h").to_env()
    assert ChatApiSettings(history_table="h").to_env() == {"CHATBOT_HISTORY_TABLE": "h"}


def test_a_fallback_variable_is_read_when_the_first_is_unset():
    assert ChatApiSettings.from_env({"AWS_DEFAULT_REGION": "eu-west-1"}).region == "eu-west-1"
    assert (
        ChatApiSettings.from_env({"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "x"}).region == "us-west-2"
    )


def test_documents_off_is_understood_as_the_docs_say():
    assert ChatApiSettings.from_env({"CHATBOT_DOCUMENTS": "off"}).documents is False


def test_a_bad_value_names_its_variable():
    with pytest.raises(ValidationError, match="CHATBOT_MAX_MESSAGE_CHARS"):
        ChatApiSettings.from_env({"CHATBOT_MAX_MESSAGE_CHARS": "many"})


def test_the_indexer_reads_retrieval_settings_plus_its_bucket():
    env = {"DATABASE_URL": "postgresql://x/db", "MAX_DOCUMENT_MB": "4", "DOCUMENTS_BUCKET": "docs"}
    settings = IndexerSettings.from_env(env)
    assert isinstance(settings, RetrievalEnvironment)
    assert settings.database.url == "postgresql://x/db"
    assert settings.knobs().max_document_bytes == 4 * 1024 * 1024
    assert settings.to_env() == env


def test_no_variable_is_named_twice_within_a_deployable():
    for model in (ChatApiSettings, IndexerSettings, UiSettings):
        names = model.variables()
        assert len(names) == len(set(names)), model.__name__


def test_the_data_dir_rule_is_the_databases(tmp_path: Path):
    settings = DatabaseSettings.from_env({"CHATBOT_DATA_DIR": str(tmp_path)})
    assert settings.folder() == tmp_path.resolve()
    assert ChatApiSettings.from_env({"CHATBOT_DATA_DIR": str(tmp_path)}).secret_file == (
        tmp_path.resolve() / "local-auth-secret"
    )
