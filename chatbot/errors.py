"""The exception tree. Every message says what went wrong and what to do about it.

Layers above map these to their own shapes: the chat API to HTTP status codes, the
stream to `ErrorEvent`s (see `chatbot.models.events`), the UI to a message in the pane.
"""

from __future__ import annotations


class ChatbotError(Exception):
    """Base of every error this library raises on purpose."""

    #: A stable, machine-readable code carried by error events and API responses.
    code = "internal_error"


class ConfigError(ChatbotError):
    """A configuration file or value is wrong; the message names the file, model and field."""

    code = "config_error"


class UnknownModelError(ChatbotError):
    code = "unknown_model"

    def __init__(self, name: str, available: list[str]):
        self.name = name
        self.available = sorted(available)
        choices = ", ".join(self.available) or "none are configured"
        super().__init__(f"Unknown model {name!r}. Pick one of: {choices}.")


class ParameterError(ChatbotError):
    """A generation parameter is outside what the model accepts. Raised before any call."""

    code = "invalid_parameters"


class PromptTooLongError(ChatbotError):
    """The prompt cannot be made to fit the model's context window."""

    code = "prompt_too_long"


class ModelCallError(ChatbotError):
    """The model endpoint failed or answered something we cannot read."""

    code = "model_error"


class ModelThrottledError(ModelCallError):
    """The endpoint is busy (its queue is full). Retrying a little later usually works."""

    code = "model_busy"


class ModelStreamError(ModelCallError):
    """The stream broke after it had started: the partial answer is all there is."""

    code = "stream_interrupted"
