"""OpenAI's chat-completions wire format: what the gateway accepts and answers (pydantic).

Only what this product can honour is accepted; a field it cannot (n > 1, tools, images) is a
400 that says so, rather than silently ignored. Fields that change nothing here (user,
metadata, presence_penalty...) are accepted and ignored, as OpenAI-compatible servers do.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chatbot.api.limits import SEED_MAX
from chatbot.models.events import FinishReason


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    #: `developer` is OpenAI's newer name for `system`.
    role: Literal["system", "developer", "user", "assistant"]
    #: Text, or a list of text parts (images are not supported).
    content: str | list[TextPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    #: Send a last chunk with `usage` and no choices.
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    #: OpenAI's newer name for max_tokens; either may be sent.
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=0, le=SEED_MAX)
    #: Save this exchange as a conversation in the user's history (off by default: gateway
    #: calls are not conversations unless asked). OpenAI's own `store` flag, reused.
    store: bool = False
    n: int = Field(1, ge=1, le=1, description="Only one choice per request is supported.")
    tools: list[dict[str, Any]] | None = None

    @field_validator("tools")
    @classmethod
    def _no_tools(cls, tools: list[dict[str, Any]] | None) -> None:
        if tools:
            raise ValueError("tools are not supported by this gateway; send plain messages")
        return None

    def parameters(self) -> dict[str, Any]:
        """Overrides of the model's GenerationParams (the model's own defaults fill the rest)."""
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        values = {
            "max_new_tokens": self.max_completion_tokens or self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": stop or None,
            "seed": self.seed,
        }
        return {name: value for name, value in values.items() if value is not None}


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> CompletionUsage:
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )


def finish_reason(reason: FinishReason) -> Literal["stop", "length"]:
    """OpenAI knows `stop` (the model ended, or a stop sequence did) and `length`."""
    return "length" if reason == "length" else "stop"


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class _Completion(BaseModel):
    id: str = Field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str


class ChatCompletion(_Completion):
    object: Literal["chat.completion"] = "chat.completion"
    choices: list[Choice]
    usage: CompletionUsage


class ChatCompletionChunk(_Completion):
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "chatbot"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    #: invalid_request_error, authentication_error, rate_limit_error or api_error.
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
