"""OpenAI's chat-completions wire format: what the gateway accepts and answers (pydantic).

Only what this product can honour is accepted; a field it cannot (n > 1, an image for a model
without images, an image that is a link rather than a data URL) is a 400 that says so, rather than silently ignored. Tools are OpenAI's function tools: `tools`,
`tool_choice`, assistant messages with `tool_calls` and `tool` messages; a tool whose parameters
are not valid JSON Schema is a 400. Fields that change nothing here (user,
metadata, presence_penalty...) are accepted and ignored, as OpenAI-compatible servers do.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chatbot.api.attachments import ImageInput
from chatbot.api.limits import SEED_MAX
from chatbot.api.tool_specs import ToolChoice, ToolRequest, ToolSpec
from chatbot.errors import InvalidRequestError
from chatbot.models.events import FinishReason, ToolCallEvent


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str


class ImageUrl(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str
    detail: str | None = None


class ImagePart(BaseModel):
    """An image for a model that takes images (issue 23): a base64 data URL, inside the body."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["image_url"]
    image_url: ImageUrl

    def image(self) -> ImageInput:
        """The image; an InvalidRequestError (400) saying what is taken for anything else."""
        try:
            return ImageInput.from_data_url(self.image_url.url)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from None


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    #: The arguments as a JSON text (OpenAI's wire shape).
    arguments: str = "{}"


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall

    @classmethod
    def of(cls, event: ToolCallEvent) -> ToolCall:
        arguments = json.dumps(event.arguments, ensure_ascii=False)
        return cls(id=event.id, function=FunctionCall(name=event.name, arguments=arguments))


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    #: `developer` is OpenAI's newer name for `system`; `tool` carries a tool's result.
    role: Literal["system", "developer", "user", "assistant", "tool"]
    #: Text, or a list of parts: text, and images (data URLs) for models that take images.
    content: str | list[Annotated[TextPart | ImagePart, Field(discriminator="type")]] | None = None
    #: The calls an earlier assistant answer made.
    tool_calls: list[ToolCall] | None = None
    #: On a `tool` message: the call it answers.
    tool_call_id: str | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content if isinstance(part, TextPart))
        return self.content or ""

    @property
    def images(self) -> list[ImageInput]:
        if not isinstance(self.content, list):
            return []
        return [part.image() for part in self.content if isinstance(part, ImagePart)]

    @model_validator(mode="after")
    def _tool_message_names_its_call(self) -> ChatMessage:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id of the call it answers")
        for call in self.tool_calls or []:
            try:
                arguments = json.loads(call.function.arguments or "{}")
            except json.JSONDecodeError:
                raise ValueError(f"tool_calls[{call.id}].function.arguments is not JSON") from None
            if not isinstance(arguments, dict):
                raise ValueError(f"tool_calls[{call.id}].function.arguments must be a JSON object")
        return self

    def prompt_message(self, call_names: dict[str, str]) -> dict[str, Any]:
        """This message as the model layer's prompt message (chatbot.models.bedrock); `call_names`
        collects call ids, so a tool message can say which tool it answers."""
        role = "system" if self.role == "developer" else self.role
        message: dict[str, Any] = {"role": role, "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "name": call.function.name,
                    "arguments": json.loads(call.function.arguments or "{}"),
                }
                for call in self.tool_calls
            ]
            call_names.update({call.id: call.function.name for call in self.tool_calls})
        if self.role == "tool":
            message.update(tool_call_id=self.tool_call_id, name=call_names.get(self.tool_call_id or "", ""))
        return message


class FunctionDefinition(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    description: str | None = None
    #: JSON Schema of the arguments.
    parameters: dict[str, Any] | None = None


class FunctionTool(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["function"]
    function: FunctionDefinition


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["function"]
    function: dict[str, str]


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
    tools: list[FunctionTool] | None = Field(None, max_length=128)
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None

    @field_validator("tools")
    @classmethod
    def _valid_tools(cls, tools: list[FunctionTool] | None) -> list[FunctionTool] | None:
        for index, tool in enumerate(tools or []):
            try:
                _spec(tool)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise ValueError(f"tools[{index}].function: {first['msg']}") from None
        return tools

    def tool_request(self) -> ToolRequest | None:
        """The tools the model may call, or None when the request brings none."""
        if not self.tools:
            return None
        choice = self.tool_choice
        if isinstance(choice, NamedToolChoice):
            tool_choice = ToolChoice(mode="tool", name=choice.function.get("name", ""))
        else:
            tool_choice = ToolChoice(mode={"required": "any", "none": "none"}.get(choice or "auto", "auto"))
        try:
            return ToolRequest(tools=[_spec(tool) for tool in self.tools], choice=tool_choice)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None

    def prompt_messages(self) -> list[dict[str, Any]]:
        call_names: dict[str, str] = {}
        return [message.prompt_message(call_names) for message in self.messages]

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


def _spec(tool: FunctionTool) -> ToolSpec:
    parameters = tool.function.parameters or {"type": "object", "properties": {}}
    return ToolSpec(
        name=tool.function.name, description=tool.function.description or "", parameters=parameters
    )


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


OpenAIFinish = Literal["stop", "length", "tool_calls"]


def finish_reason(reason: FinishReason) -> OpenAIFinish:
    """OpenAI knows `stop` (the model ended, or a stop sequence did), `length` and `tool_calls`."""
    if reason == "tool_calls":
        return "tool_calls"
    return "length" if reason == "length" else "stop"


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    #: None when the answer is only tool calls (as OpenAI sends it).
    content: str | None
    tool_calls: list[ToolCall] | None = None


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: OpenAIFinish
    logprobs: None = None


class ToolCallDelta(BaseModel):
    """One call in a streamed answer: OpenAI sends its index, id, type and name first and the
    arguments in pieces; a whole call arrives here in one delta."""

    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: FunctionCall


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: OpenAIFinish | None = None
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
