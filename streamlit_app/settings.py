"""The app's configuration, from environment variables (the ECS task sets them; `make chat` too).

One model, read by the app (`UiSettings.from_env()`) and written by the Pulumi program into the
task definition (`UiSettings(...).to_env()`, and `UiSettings.variable(...)` for the names of the
values that come from Secrets Manager). Local tokens are signed with the chat API's own secret
file, found by the same rule on both sides (chatbot/api/local_tokens.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from chatbot.api.env_settings import EnvSettings, env_field
from chatbot.api.local_tokens import SECRET_FILE_NAME


def data_dir() -> Path:
    # The rule of chatbot.postgres.default_data_dir, without importing psycopg2 into the UI image.
    return UiSettings.from_env().data_folder()


class UiSettings(EnvSettings):
    #: The chat API's base URL.
    chat_api_url: str = env_field("http://127.0.0.1:8000", "CHAT_API_URL")
    #: `bearer` (the user's token in Authorization) or `aws_iam` (SigV4-signed, the user's token
    #: in X-Id-Token: a function URL with AWS_IAM auth).
    chat_api_auth: Literal["bearer", "aws_iam"] = env_field("bearer", "CHAT_API_AUTH")
    #: The region of the function URL (aws_iam).
    region: str = env_field("us-east-1", "AWS_REGION", "AWS_DEFAULT_REGION")
    #: The OpenAI-compatible gateway's base URL, as API-key users reach it (shown on Settings);
    #: default $CHAT_API_URL/v1.
    gateway_url: str | None = env_field(None, "GATEWAY_URL")
    #: `local` (users file) or `oidc` (`st.login`, Cognito); default: `oidc` when AUTH_CLIENT_ID is set.
    ui_auth: Literal["local", "oidc"] | None = env_field(None, "CHATBOT_UI_AUTH")
    #: Local users (bcrypt hashes); default $CHATBOT_DATA_DIR/users.yaml.
    users_file_path: Path | None = env_field(None, "CHATBOT_USERS_FILE")
    #: The local data folder; default .data in the current folder.
    data_dir: Path | None = env_field(None, "CHATBOT_DATA_DIR")
    #: Local tokens' signing secret, shared with the chat API; default $CHATBOT_DATA_DIR/local-auth-secret.
    local_secret_file: Path | None = env_field(None, "CHATBOT_LOCAL_SECRET_FILE")
    #: `st.login` with Cognito (streamlit_app/serve.py writes them into secrets.toml at start-up).
    auth_redirect_uri: str | None = env_field(None, "AUTH_REDIRECT_URI")
    auth_client_id: str | None = env_field(None, "AUTH_CLIENT_ID")
    auth_server_metadata_url: str | None = env_field(None, "AUTH_SERVER_METADATA_URL")
    #: Secrets: in ECS they come from Secrets Manager (the task's `secrets`), never as values.
    auth_client_secret: str | None = env_field(None, "AUTH_CLIENT_SECRET", repr=False)
    auth_cookie_secret: str | None = env_field(None, "AUTH_COOKIE_SECRET", repr=False)
    #: Seconds to wait for the chat API to answer (a stream may then take as long as it needs).
    connect_timeout_s: float = Field(10)
    read_timeout_s: float = Field(120)

    @field_validator("chat_api_url", "gateway_url")
    @classmethod
    def _no_trailing_slash(cls, url: str | None) -> str | None:
        return url.rstrip("/") if url else url

    @property
    def openai_base_url(self) -> str:
        return self.gateway_url or f"{self.chat_api_url}/v1"

    @property
    def login(self) -> Literal["local", "oidc"]:
        return self.ui_auth or ("oidc" if self.auth_client_id else "local")

    @property
    def users_file(self) -> Path:
        return self.users_file_path or self.data_folder() / "users.yaml"

    @property
    def secret_file(self) -> Path:
        return self.local_secret_file or self.data_folder() / SECRET_FILE_NAME

    def data_folder(self) -> Path:
        return (self.data_dir or Path(".data")).resolve()
