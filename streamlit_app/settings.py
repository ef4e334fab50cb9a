"""The app's configuration, from environment variables (the ECS task sets them; `make chat` too).

| variable | meaning | default |
|---|---|---|
| CHAT_API_URL | the chat API's base URL | http://127.0.0.1:8000 |
| CHAT_API_AUTH | `bearer` (the user's token in Authorization) or `aws_iam` (SigV4-signed, user token in X-Id-Token: a function URL with AWS_IAM auth) | bearer |
| AWS_REGION | region of the function URL (aws_iam) | us-east-1 |
| GATEWAY_URL | the OpenAI-compatible gateway's base URL, as API-key users reach it (shown on Settings) | $CHAT_API_URL/v1 |
| CHATBOT_UI_AUTH | `local` (users file) or `oidc` (`st.login`, Cognito); `oidc` whenever AUTH_CLIENT_ID is set | local |
| CHATBOT_USERS_FILE | local users (bcrypt hashes) | $CHATBOT_DATA_DIR/users.yaml |
| CHATBOT_DATA_DIR | the local data folder | .data in the current folder |

Local tokens are signed with the chat API's own secret file (CHATBOT_LOCAL_SECRET_FILE, see
lambdas/chat_api/settings.py), so both sides always agree on it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict


def data_dir() -> Path:
    # The rule of chatbot.postgres.default_data_dir, without importing psycopg2 into the UI image.
    return Path(os.environ.get("CHATBOT_DATA_DIR") or ".data").resolve()


class UiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chat_api_url: str = "http://127.0.0.1:8000"
    chat_api_auth: Literal["bearer", "aws_iam"] = "bearer"
    region: str = "us-east-1"
    login: Literal["local", "oidc"] = "local"
    users_file: Path
    #: The OpenAI-compatible gateway's base URL, for people to paste into their tools.
    gateway_url: str | None = None
    #: Seconds to wait for the chat API to answer (a stream may then take as long as it needs).
    connect_timeout_s: float = 10
    read_timeout_s: float = 120

    @property
    def openai_base_url(self) -> str:
        return self.gateway_url or f"{self.chat_api_url}/v1"

    @classmethod
    def from_env(cls) -> UiSettings:
        env = os.environ
        login = env.get("CHATBOT_UI_AUTH") or ("oidc" if env.get("AUTH_CLIENT_ID") else "local")
        values = {
            "chat_api_url": env.get("CHAT_API_URL", "").rstrip("/") or None,
            "chat_api_auth": env.get("CHAT_API_AUTH"),
            "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            "login": login,
            "users_file": env.get("CHATBOT_USERS_FILE") or data_dir() / "users.yaml",
            "gateway_url": env.get("GATEWAY_URL", "").rstrip("/") or None,
        }
        return cls.model_validate({key: value for key, value in values.items() if value})
