"""The real local stack for UI tests: model server, embedded Postgres and chat API (as `make chat`
runs them), plus a users file and the settings the app reads from its environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chatbot.postgres import create_database
from streamlit_app.users import UsersFile
from tests.servers import chat_api_server

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class UiStack:
    api_url: str
    users_file: Path
    secret_file: Path

    def env(self) -> dict[str, str]:
        """What the app needs to find the chat API, its users and the local signing secret."""
        return {
            "CHAT_API_URL": self.api_url,
            "CHATBOT_USERS_FILE": str(self.users_file),
            "CHATBOT_LOCAL_SECRET_FILE": str(self.secret_file),
            "CHATBOT_UI_AUTH": "local",
        }

    def add_user(self, name: str, password: str = PASSWORD) -> str:
        UsersFile(self.users_file).add(name, password)
        return name


@contextmanager
def ui_stack(
    model_server_url: str,
    postgres_server_url: str,
    folder: Path,
    database: str,
    *,
    documents: bool = False,
    **api_settings: str,
) -> Iterator[UiStack]:
    """`api_settings`: more of the chat API's environment (e.g. another CHATBOT_MODELS_FILE)."""
    secret_file = folder / "local-auth-secret"
    env = {
        "CHATBOT_MODELS_FILE": "models.yaml",
        "SAGEMAKER_ENDPOINT_URL": model_server_url,
        "DATABASE_URL": create_database(postgres_server_url, database),
        "CHATBOT_LOCAL_SECRET_FILE": str(secret_file),
        # The app's own users file: administrators manage it through the API's /users.
        "CHATBOT_USERS_FILE": str(folder / "users.yaml"),
        # The embedding model loads only where a test needs documents (it takes seconds).
        "CHATBOT_DOCUMENTS": "on" if documents else "off",
        **api_settings,
    }
    with chat_api_server(env) as url:
        yield UiStack(api_url=url, users_file=folder / "users.yaml", secret_file=secret_file)
