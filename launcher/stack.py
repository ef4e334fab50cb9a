"""The local stack, defined once: which processes `make chat` runs, how each is started, where it
answers and what environment it gets.

The launcher (`make chat`), the tests (tests/servers.py, the UI stacks) and the benchmarks start
their servers from these definitions, so each runs what a user runs. Environments are written by
the deployables' own settings models (`ChatApiSettings`, `UiSettings`): no variable name is
spelled here. Every process takes `--exit-with-stdin`: it ends when its parent does, however the
parent ends (the embedded PostgreSQL has its own watcher, chatbot/postgres_reaper.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lambdas.chat_api.settings import ChatApiSettings
from streamlit_app.settings import UiSettings

#: The catalog of the local models (`make models` assembles them).
MODELS_FILE = Path("models.yaml")


@dataclass(frozen=True)
class LocalProcess:
    """One server of the stack: `python <args>`, healthy once `health_url` answers 200."""

    #: How the console names it: "model server", "chat API", "web app".
    name: str
    args: list[str]
    url: str
    health_path: str
    env: dict[str, str] = field(default_factory=dict)
    #: Its log's file name under the launcher's logs folder.
    log_name: str = ""

    @property
    def health_url(self) -> str:
        return self.url + self.health_path


def model_server(host: str, port: int, *extra_args: str, models: Path = MODELS_FILE) -> LocalProcess:
    """The model server: SageMaker Runtime and Bedrock Runtime over the local models."""
    url = f"http://{host}:{port}"
    args = ["-m", "inference", "--config", str(models), "--host", host, "--port", str(port)]
    return LocalProcess(
        name="model server",
        args=[*args, "--exit-with-stdin", *extra_args],
        url=url,
        health_path="/ping",
        log_name="model-server.log",
    )


def chat_api_settings(
    model_url: str, database_url: str, *, models: Path = MODELS_FILE, **more: object
) -> ChatApiSettings:
    """The chat API's settings on the local stack: the model server for both runtimes, this
    Postgres, plus `more` (fields of ChatApiSettings, by name)."""
    return ChatApiSettings.model_validate(
        {
            "models_file": models,
            "sagemaker_endpoint_url": model_url,
            "database": {"url": database_url},
            **more,
        }
    )


def chat_api(host: str, port: int, settings: ChatApiSettings) -> LocalProcess:
    """The chat API (`python -m lambdas.chat_api`), configured by `settings`."""
    return LocalProcess(
        name="chat API",
        args=["-m", "lambdas.chat_api", "--host", host, "--port", str(port), "--exit-with-stdin"],
        url=f"http://{host}:{port}",
        health_path="/health",
        env=settings.to_env(),
        log_name="chat-api.log",
    )


def web_app(host: str, port: int, settings: UiSettings) -> LocalProcess:
    """The Streamlit app (launcher.web_app runs streamlit_app.serve, which reads
    .streamlit/config.toml from the project root, where every process of the stack starts)."""
    return LocalProcess(
        name="web app",
        args=[
            *("-m", "launcher.web_app", "--exit-with-stdin"),
            *("--server.address", host, "--server.port", str(port), "--server.headless", "true"),
        ],
        url=f"http://{host}:{port}",
        health_path="/_stcore/health",
        env=settings.to_env(),
        log_name="web-app.log",
    )


def local_stack(
    host: str, model_port: int, api_port: int, ui_port: int, database_url: str, *, models: Path = MODELS_FILE
) -> list[LocalProcess]:
    """`make chat`'s servers, in the order they start (each needs the one before)."""
    models_server = model_server(host, model_port, models=models)
    api = chat_api(host, api_port, chat_api_settings(models_server.url, database_url, models=models))
    return [models_server, api, web_app(host, ui_port, UiSettings(chat_api_url=api.url))]
