"""Hugging Face TGI's wire format: request validation and response bodies.

The same shapes the TGI container answers with, so the model layer's `tgi`
endpoint_req_config reads this server and a real TGI endpoint alike.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inference.engine import Finished, GeneratedToken, SamplingSettings

#: TGI's default when a request does not say.
DEFAULT_MAX_NEW_TOKENS = 100


class TGIValidationError(Exception):
    """A request TGI would refuse with 422; the message follows TGI's wording."""


class TGIParameters(BaseModel):
    # Unknown TGI knobs (watermark, truncate, best_of...) are accepted and ignored, as TGI does.
    model_config = ConfigDict(extra="ignore")

    max_new_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, gt=0)
    top_p: float | None = Field(None, gt=0, lt=1)
    top_k: int | None = Field(None, gt=0)
    repetition_penalty: float | None = Field(None, gt=0)
    stop: list[str] = Field(default_factory=list, max_length=4)
    seed: int | None = Field(None, ge=0)
    do_sample: bool = False
    details: bool = False
    return_full_text: bool = False
    #: TGI's guidance: {"type": "json", "value": <JSON Schema>} constrains the answer to the schema.
    grammar: dict[str, Any] | None = None

    def sampling(self) -> SamplingSettings:
        # TGI samples when asked to, or when any sampling knob is set.
        sample = self.do_sample or any(
            value is not None for value in (self.temperature, self.top_p, self.top_k)
        )
        return SamplingSettings(
            max_new_tokens=self.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
            temperature=(self.temperature or 1.0) if sample else None,
            top_p=self.top_p or 1.0,
            top_k=self.top_k or 0,
            repetition_penalty=self.repetition_penalty or 1.0,
            stop=tuple(word for word in self.stop if word),
            seed=self.seed,
        )


class TGIRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: str = Field(min_length=1)
    parameters: TGIParameters = Field(default_factory=TGIParameters)
    stream: bool = False
    #: OpenAI-style tools and tool_choice (inference/tools.py): the caller's prompt describes the
    #: tools; the server constrains the call and answers it in `tool_calls`.
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None


def parse_request(body: bytes) -> TGIRequest:
    _refuse_images(body)
    try:
        return TGIRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        if first["type"] == "json_invalid":
            raise TGIValidationError(f"Failed to parse the request body as JSON: {first['msg']}") from None
        raise TGIValidationError(f"Input validation error: `{where}`: {first['msg']}") from None


def _refuse_images(body: bytes) -> None:
    """A chat list with image content parts (TGI's Messages API, as a vision model's endpoint
    takes them) is refused in words: no local model sees images, and the plain `inputs: Field
    required` would not say why."""
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return  # parse_request says what is wrong with it
    messages = request.get("messages") if isinstance(request, dict) else None
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(
            isinstance(part, dict) and part.get("type") == "image_url" for part in content
        ):
            raise TGIValidationError(
                "Input validation error: images are not supported by this server: no local model "
                "takes images. Send the question without the image, or pick a model deployed "
                "with a vision container."
            )


def check_length(input_tokens: int, max_new_tokens: int, context_window: int) -> None:
    if input_tokens + max_new_tokens > context_window:
        raise TGIValidationError(
            f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= {context_window}. "
            f"Given: {input_tokens} `inputs` tokens and {max_new_tokens} `max_new_tokens`"
        )


def error_body(message: str, error_type: str) -> bytes:
    return json.dumps({"error": message, "error_type": error_type}).encode()


def _details(finished: Finished) -> dict:
    return {
        "finish_reason": finished.reason,
        "generated_tokens": finished.generated_tokens,
        "seed": finished.seed,
        "input_length": finished.input_length,
    }


def stream_line(
    index: int,
    token: GeneratedToken,
    finished: Finished | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> bytes:
    """One server-sent event; the last one also carries the whole text and the details (and the
    tool calls the answer makes)."""
    event: dict[str, Any] = {
        "index": index,
        "token": {"id": token.id, "text": token.text, "logprob": None, "special": token.special},
        "generated_text": finished.generated_text if finished else None,
        "details": _details(finished) if finished else None,
    }
    if tool_calls:
        event["tool_calls"] = tool_calls
    return b"data:" + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


def stream_error_line(message: str) -> bytes:
    return b"data:" + error_body(message, "generation") + b"\n\n"


def complete_body(
    request: TGIRequest, finished: Finished, tool_calls: list[dict[str, Any]] | None = None
) -> bytes:
    text = (
        request.inputs + finished.generated_text
        if request.parameters.return_full_text
        else finished.generated_text
    )
    result: dict = {"generated_text": text}
    if request.parameters.details:
        result["details"] = _details(finished)
    if tool_calls:
        result["tool_calls"] = tool_calls
    return json.dumps([result], ensure_ascii=False).encode()
