"""The chat API's configuration, from environment variables (the same code locally and on Lambda).

| variable | meaning | default |
|---|---|---|
| CHATBOT_MODELS_FILE | model catalog file (local) | models.yaml |
| CHATBOT_MODELS_TABLE | DynamoDB model registry (cloud); wins over the file | - |
| CHATBOT_HISTORY_TABLE | DynamoDB history table (cloud); else Postgres | - |
| DATABASE_URL / CHATBOT_DATA_DIR | Postgres for history (see chatbot/postgres.py) | embedded, .data |
| SAGEMAKER_ENDPOINT_URL | the local model server; unset in AWS | - |
| BEDROCK_ENDPOINT_URL | Bedrock Runtime API endpoint; unset in AWS (defaults to SAGEMAKER_ENDPOINT_URL: the local model server speaks both) | - |
| AWS_REGION | region of SageMaker, DynamoDB and Cognito | us-east-1 |
| CHATBOT_AUTH | `local` (HS256 tokens) or `cognito` (ID tokens) | local |
| CHATBOT_LOCAL_SECRET_FILE | secret that signs local tokens (made on first use) | $CHATBOT_DATA_DIR/local-auth-secret |
| COGNITO_USER_POOL_ID, COGNITO_CLIENT_ID | with CHATBOT_AUTH=cognito | - |
| CHATBOT_MAX_MESSAGE_CHARS | longest message accepted | 8000 |
| CHATBOT_MAX_BODY_BYTES | largest request body accepted (uploads have their own limit) | 262144 |
| CHATBOT_DOCUMENTS | `off` turns document upload and search off | on |
| EMBEDDING_MODEL_SPEC | the embeddings endpoint's ModelSpec as JSON (cloud); else the local MiniLM | - |
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from chatbot.postgres import default_data_dir


class ChatApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    models_file: Path = Path("models.yaml")
    models_table: str | None = None
    history_table: str | None = None
    sagemaker_endpoint_url: str | None = None
    bedrock_endpoint_url: str | None = None
    region: str = "us-east-1"
    auth: Literal["local", "cognito"] = "local"
    local_secret_file: Path | None = None
    cognito_user_pool_id: str | None = None
    cognito_client_id: str | None = None
    max_message_chars: int = 8000
    max_body_bytes: int = 256 * 1024
    documents: bool = True
    embedding_model_spec: str | None = None

    @model_validator(mode="after")
    def _cognito_needs_its_pool(self) -> ChatApiSettings:
        if self.auth == "cognito" and not (self.cognito_user_pool_id and self.cognito_client_id):
            raise ValueError("CHATBOT_AUTH=cognito needs COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID")
        return self

    @property
    def bedrock_url(self) -> str | None:
        """Where Bedrock calls go: the local model server speaks the Bedrock Runtime API too."""
        return self.bedrock_endpoint_url or self.sagemaker_endpoint_url

    @property
    def secret_file(self) -> Path:
        return self.local_secret_file or default_data_dir() / "local-auth-secret"

    @classmethod
    def from_env(cls) -> ChatApiSettings:
        env = os.environ
        values = {
            "models_file": env.get("CHATBOT_MODELS_FILE"),
            "models_table": env.get("CHATBOT_MODELS_TABLE"),
            "history_table": env.get("CHATBOT_HISTORY_TABLE"),
            "sagemaker_endpoint_url": env.get("SAGEMAKER_ENDPOINT_URL"),
            "bedrock_endpoint_url": env.get("BEDROCK_ENDPOINT_URL"),
            "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            "auth": env.get("CHATBOT_AUTH"),
            "local_secret_file": env.get("CHATBOT_LOCAL_SECRET_FILE"),
            "cognito_user_pool_id": env.get("COGNITO_USER_POOL_ID"),
            "cognito_client_id": env.get("COGNITO_CLIENT_ID"),
            "max_message_chars": env.get("CHATBOT_MAX_MESSAGE_CHARS"),
            "max_body_bytes": env.get("CHATBOT_MAX_BODY_BYTES"),
            "documents": env.get("CHATBOT_DOCUMENTS"),
            "embedding_model_spec": env.get("EMBEDDING_MODEL_SPEC"),
        }
        return cls.model_validate({key: value for key, value in values.items() if value})
