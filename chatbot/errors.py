"""The exception tree. Every message says what went wrong and what to do about it.

Each class declares its own HTTP status next to its code, so the chat API answers an error
the way its class says (no table kept in step elsewhere); the stream carries the code in an
`ErrorEvent` (see `chatbot.models.events`), the UI shows the message in the pane. A new error
class declares both `code` and `http_status` (tests/lambdas/chat_api/test_errors.py checks).
"""

from __future__ import annotations


class ChatbotError(Exception):
    """Base of every error this library raises on purpose."""

    #: A stable, machine-readable code carried by error events and API responses.
    code = "internal_error"
    #: The HTTP status the chat API answers with when this error ends a request.
    http_status = 500

    def details(self) -> dict[str, object]:
        """Extra fields of the API's error body beside code and message (none by default)."""
        return {}


def http_status_of(code: str) -> int:
    """The HTTP status the class with this code declares (for an error that arrives as an event,
    with only its code); 500 for a code no class declares. Classes outside this module count once
    imported, as the chat API imports them all."""
    pending: list[type[ChatbotError]] = [ChatbotError]
    while pending:
        error_class = pending.pop()
        if error_class.code == code:
            return error_class.http_status
        pending.extend(error_class.__subclasses__())
    return ChatbotError.http_status


class ConfigError(ChatbotError):
    """A configuration file or value is wrong; the message names the file, model and field."""

    code = "config_error"
    http_status = 500


class UnknownModelError(ChatbotError):
    code = "unknown_model"
    http_status = 404

    def __init__(self, name: str, available: list[str]):
        self.name = name
        self.available = sorted(available)
        choices = ", ".join(self.available) or "none are configured"
        super().__init__(f"Unknown model {name!r}. Pick one of: {choices}.")

    def details(self) -> dict[str, object]:
        return {"available": self.available}


class ParameterError(ChatbotError):
    """A generation parameter is outside what the model accepts. Raised before any call."""

    code = "invalid_parameters"
    http_status = 422


class PromptTooLongError(ChatbotError):
    """The prompt cannot be made to fit the model's context window."""

    code = "prompt_too_long"
    http_status = 413


class ModelCallError(ChatbotError):
    """The model endpoint failed or answered something we cannot read."""

    code = "model_error"
    http_status = 502


class ModelThrottledError(ModelCallError):
    """The endpoint is busy (its queue is full). Retrying a little later usually works."""

    code = "model_busy"
    http_status = 429


class ModelStreamError(ModelCallError):
    """The stream broke after it had started: the partial answer is all there is."""

    code = "stream_interrupted"
    http_status = 502


class InvalidRequestError(ChatbotError):
    """The request is well formed but cannot be done as asked; the message says what to change."""

    code = "invalid_request"
    http_status = 422


class MessageTooLongError(ChatbotError):
    code = "message_too_long"
    http_status = 413


class BodyTooLargeError(ChatbotError):
    """A request body over the deployment's limit (uploads have their own, larger one)."""

    code = "body_too_large"
    http_status = 413

    def __init__(self, limit: int, why: str = "Send less."):
        super().__init__(f"The request body is over {limit} bytes. {why}")


class ModelWarmingUpError(ModelCallError):
    """A model that scales to zero has no copy running: the first call has started one, which
    takes minutes. Nothing was generated; the same request works once it is up."""

    code = "model_warming_up"
    http_status = 503

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        #: Seconds a client should wait before trying again (the Retry-After header).
        self.retry_after_s = retry_after_s

    def details(self) -> dict[str, object]:
        return {"retry_after_s": self.retry_after_s}


class ModelServerRestartingError(ModelCallError):
    """Nothing answers at the model server's address. Locally the launcher restarts a model
    server that exits, so this passes within seconds."""

    code = "model_server_restarting"
    http_status = 503


class NulCharacterError(ChatbotError):
    """A NUL character (U+0000) in a person's text: no store can keep it, and nobody means it."""

    code = "nul_character"
    http_status = 422

    def __init__(self, where: str):
        self.where = where
        super().__init__(
            f"{where} contains a NUL character (\\u0000), which cannot be stored. Remove it and send again."
        )
