"""endpoint_req_config: how a model's request body is built and its responses are read.

The format keeps sagemaker-fastchat's meaning: `request.defaults` is a complete example
body copied for every request, `request.mapping` says where each parameter goes
(JSONPath), `response.regex_sub` is removed from each streamed line before JSON parsing,
and `response.mapping` says where each field of an event is. Its known bugs are fixed:

- a mapped path that does not exist in the defaults is a config error at load time
  (the original silently sent nothing);
- a parameter with no value (`stop=None`, `seed=None`) is removed from the body instead
  of crashing;
- tokens flagged special never reach the text;
- an event without text (an error event, a usage-only event) parses to empty text and
  its mapped `error` becomes a typed error;
- parameters are checked against `request.bounds` before any call: a value at an
  exclusive edge means "off" and is left out (TGI rejects top_p=1.0 and temperature=0),
  a value beyond it is a `ParameterError`.

Two configs ship built in: `tgi` (Hugging Face TGI) and `openai-chat` (the LMI/vLLM
containers' OpenAI-style chat completions).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from jsonpath_ng import JSONPath
from jsonpath_ng import parse as parse_jsonpath
from jsonpath_ng.exceptions import JsonPathParserError
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from chatbot.errors import ModelCallError, ParameterError

#: Parameters a request mapping may place. `prompt` or `messages` carries the input.
REQUEST_PARAMETERS = frozenset(
    {
        "prompt",
        "messages",
        "stream",
        "max_new_tokens",
        "temperature",
        "top_p",
        "top_k",
        "repetition_penalty",
        "stop",
        "seed",
        "do_sample",
    }
)
#: Fields a response mapping may read. `text` is required.
RESPONSE_FIELDS = frozenset(
    {"text", "special", "finish_reason", "prompt_tokens", "completion_tokens", "error"}
)


def _compile(path: str, where: str) -> JSONPath:
    try:
        return parse_jsonpath(path)
    except (JsonPathParserError, Exception) as exc:  # jsonpath-ng raises bare Exceptions too
        raise ValueError(f"{where}: {path!r} is not a valid JSONPath ({exc})") from exc


class Bound(BaseModel):
    """Limits a backend enforces on one parameter. Exclusive edges mean "off"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    #: For list parameters (stop sequences): send at most this many.
    max_items: int | None = Field(None, ge=0)


class RequestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: A complete example body; every request starts from a deep copy of it.
    defaults: dict[str, Any]
    #: Parameter name -> JSONPath into the body.
    mapping: dict[str, str]
    #: Backend limits checked before any call.
    bounds: dict[str, Bound] = Field(default_factory=dict)

    @field_validator("mapping")
    @classmethod
    def _known_parameters(cls, mapping: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(mapping) - REQUEST_PARAMETERS)
        if unknown:
            raise ValueError(f"unknown request parameters {unknown}; known: {sorted(REQUEST_PARAMETERS)}")
        if ("prompt" in mapping) == ("messages" in mapping):
            raise ValueError("map exactly one of 'prompt' (text) or 'messages' (chat list)")
        return mapping


class ResponseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Removed from each streamed line before JSON parsing, e.g. `^data:` for TGI.
    regex_sub: str | None = None
    #: A line that marks the end of the stream and carries no JSON (`[DONE]` for OpenAI).
    end_marker: str | None = None
    #: Field -> JSONPath into each streamed event.
    mapping: dict[str, str]
    #: Field -> JSONPath into a complete (non-streaming) response body.
    complete_mapping: dict[str, str]
    #: Each streamed event carries exactly one generated token (TGI), so a stopped answer's
    #: tokens can be counted from the events the server sent.
    one_token_per_event: bool = False

    @field_validator("mapping", "complete_mapping")
    @classmethod
    def _known_fields(cls, mapping: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(mapping) - RESPONSE_FIELDS)
        if unknown:
            raise ValueError(f"unknown response fields {unknown}; known: {sorted(RESPONSE_FIELDS)}")
        if "text" not in mapping:
            raise ValueError("a response mapping must map 'text'")
        return mapping

    @field_validator("regex_sub")
    @classmethod
    def _valid_regex(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"regex_sub {pattern!r} is not a valid regex: {exc}") from exc
        return pattern


@dataclass(frozen=True, slots=True)
class ParsedChunk:
    """What one response event (or a complete response) says, in our terms."""

    text: str = ""
    special: bool = False
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None
    #: The backend's own measure of the call, when it gives one (Bedrock's metrics.latencyMs).
    latency_ms: float | None = None
    #: Generated tokens this chunk carries, as the server counts them; None where it does not say.
    tokens: int | None = None
    #: The event named a token (its text may be empty: a special token).
    has_token: bool = False


class EndpointRequestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    request: RequestConfig
    response: ResponseConfig

    _request_paths: dict[str, JSONPath] = PrivateAttr()
    _stream_paths: dict[str, JSONPath] = PrivateAttr()
    _complete_paths: dict[str, JSONPath] = PrivateAttr()
    _line_prefix: re.Pattern[str] | None = PrivateAttr()

    @model_validator(mode="after")
    def _compile_paths(self) -> EndpointRequestConfig:
        self._request_paths = {
            name: _compile(path, f"request.mapping.{name}") for name, path in self.request.mapping.items()
        }
        for name, path in self._request_paths.items():
            if not path.find(self.request.defaults):
                raise ValueError(
                    f"request.mapping.{name} points at {self.request.mapping[name]!r}, which is "
                    "not in request.defaults; add an example value there so the body's shape is known"
                )
        self._stream_paths = {
            name: _compile(path, f"response.mapping.{name}") for name, path in self.response.mapping.items()
        }
        self._complete_paths = {
            name: _compile(path, f"response.complete_mapping.{name}")
            for name, path in self.response.complete_mapping.items()
        }
        self._line_prefix = re.compile(self.response.regex_sub) if self.response.regex_sub else None
        return self

    @property
    def input_kind(self) -> Literal["prompt", "messages"]:
        return "messages" if "messages" in self.request.mapping else "prompt"

    # -- requests -------------------------------------------------------------------------

    def build_body(
        self, prompt: str | list[dict[str, str]], params: dict[str, Any], *, stream: bool
    ) -> bytes:
        """The JSON body for one call. `params` are wire values from `GenerationParams`."""
        if isinstance(prompt, str) != (self.input_kind == "prompt"):
            raise ParameterError(
                f"this endpoint takes {self.input_kind!r} input; the adapter produced "
                f"{type(prompt).__name__}. Pick an adapter that matches the endpoint_req_config."
            )
        values: dict[str, Any] = {**self._within_bounds(params), self.input_kind: prompt, "stream": stream}
        body = copy.deepcopy(self.request.defaults)
        for name, path in self._request_paths.items():
            value = values.get(name)
            if value is None:
                path.filter(lambda _: True, body)  # no value: leave the field out entirely
            else:
                path.update(body, value)
        return json.dumps(body).encode()

    def _within_bounds(self, params: dict[str, Any]) -> dict[str, Any]:
        return within_bounds(params, self.request.bounds)

    # -- responses ------------------------------------------------------------------------

    def parse_line(self, line: str) -> ParsedChunk | None:
        """One complete line of a stream; None for lines that carry no event."""
        if self._line_prefix is not None:
            line = self._line_prefix.sub("", line, count=1)
        line = line.strip()
        if not line or line == self.response.end_marker:
            return None
        chunk = self._read(self._stream_paths, _load_json(line))
        if self.response.one_token_per_event and chunk.error is None and chunk.has_token:
            chunk = dataclasses.replace(chunk, tokens=1)
        return chunk

    def parse_complete(self, body: bytes) -> ParsedChunk:
        """A whole non-streaming response body."""
        chunk = self._read(self._complete_paths, _load_json(body.decode("utf-8", errors="replace")))
        return dataclasses.replace(chunk, tokens=chunk.completion_tokens)

    @staticmethod
    def _read(paths: dict[str, JSONPath], event: Any) -> ParsedChunk:
        found: dict[str, Any] = {}
        for name, path in paths.items():
            matches = path.find(event)
            if matches and matches[0].value is not None:
                found[name] = matches[0].value  # first match wins
        error = found.get("error")
        return ParsedChunk(
            text="" if found.get("special") else str(found.get("text", "")),
            special=bool(found.get("special", False)),
            finish_reason=found.get("finish_reason"),
            prompt_tokens=found.get("prompt_tokens"),
            completion_tokens=found.get("completion_tokens"),
            error=None if error is None else str(error),
            has_token="text" in found,
        )


def within_bounds(params: dict[str, Any], bounds: dict[str, Bound]) -> dict[str, Any]:
    """`params` checked against a backend's bounds: lists cut to `max_items`, a value at an
    exclusive edge left out (None), a value beyond an edge a ParameterError."""
    checked: dict[str, Any] = {}
    for name, value in params.items():
        bound = bounds.get(name)
        if bound is None or value is None:
            checked[name] = value
        elif isinstance(value, list):
            checked[name] = value[: bound.max_items] if bound.max_items is not None else value
        else:
            checked[name] = _check_bound(name, value, bound)
    return checked


def _check_bound(name: str, value: float, bound: Bound) -> float | None:
    """A value at an exclusive edge is "off" (left out); beyond any edge is an error."""
    if value == bound.gt or value == bound.lt:
        return None
    too_low = (bound.gt is not None and value < bound.gt) or (bound.ge is not None and value < bound.ge)
    too_high = (bound.lt is not None and value > bound.lt) or (bound.le is not None and value > bound.le)
    if too_low or too_high:
        limits = ", ".join(f"{op} {edge}" for op, edge in bound.model_dump(exclude_none=True).items())
        raise ParameterError(f"{name}={value} is outside what this endpoint accepts ({limits}).")
    return value


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelCallError(
            f"The model endpoint sent something that is not JSON ({exc.msg}): {text[:200]!r}. "
            "Check the model's endpoint_req_config.response settings."
        ) from exc


TGI = EndpointRequestConfig.model_validate(
    {
        "request": {
            "defaults": {
                "inputs": "Hello",
                "parameters": {
                    "max_new_tokens": 256,
                    "temperature": 0.7,
                    "top_p": 0.9,
                    "top_k": 50,
                    "repetition_penalty": 1.1,
                    "stop": ["</s>"],
                    "seed": 0,
                    "do_sample": True,
                    "details": True,
                },
                "stream": True,
            },
            "mapping": {
                "prompt": "$.inputs",
                "stream": "$.stream",
                "max_new_tokens": "$.parameters.max_new_tokens",
                "temperature": "$.parameters.temperature",
                "top_p": "$.parameters.top_p",
                "top_k": "$.parameters.top_k",
                "repetition_penalty": "$.parameters.repetition_penalty",
                "stop": "$.parameters.stop",
                "seed": "$.parameters.seed",
                "do_sample": "$.parameters.do_sample",
            },
            "bounds": {
                "temperature": {"gt": 0},
                "top_p": {"gt": 0, "lt": 1},
                "top_k": {"gt": 0},
                "max_new_tokens": {"ge": 1},
                "repetition_penalty": {"gt": 0},
                "stop": {"max_items": 4},
            },
        },
        "response": {
            "regex_sub": "^data:",
            "mapping": {
                "text": "$.token.text",
                "special": "$.token.special",
                "finish_reason": "$.details.finish_reason",
                "completion_tokens": "$.details.generated_tokens",
                "prompt_tokens": "$.details.input_length",
                "error": "$.error",
            },
            "one_token_per_event": True,
            "complete_mapping": {
                "text": "$[0].generated_text",
                "finish_reason": "$[0].details.finish_reason",
                "completion_tokens": "$[0].details.generated_tokens",
                "prompt_tokens": "$[0].details.input_length",
                "error": "$.error",
            },
        },
    }
)

OPENAI_CHAT = EndpointRequestConfig.model_validate(
    {
        "request": {
            "defaults": {
                "messages": [{"role": "user", "content": "Hello"}],
                "max_tokens": 256,
                "temperature": 0.7,
                "top_p": 0.9,
                "stop": ["</s>"],
                "seed": 0,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            "mapping": {
                "messages": "$.messages",
                "stream": "$.stream",
                "max_new_tokens": "$.max_tokens",
                "temperature": "$.temperature",
                "top_p": "$.top_p",
                "stop": "$.stop",
                "seed": "$.seed",
            },
            "bounds": {
                "temperature": {"ge": 0, "le": 2},
                "top_p": {"gt": 0, "le": 1},
                "max_new_tokens": {"ge": 1},
                "stop": {"max_items": 4},
            },
        },
        "response": {
            "regex_sub": r"^data:\s?",
            "end_marker": "[DONE]",
            "mapping": {
                "text": "$.choices[0].delta.content",
                "finish_reason": "$.choices[0].finish_reason",
                "prompt_tokens": "$.usage.prompt_tokens",
                "completion_tokens": "$.usage.completion_tokens",
                "error": "$.error.message",
            },
            "complete_mapping": {
                "text": "$.choices[0].message.content",
                "finish_reason": "$.choices[0].finish_reason",
                "prompt_tokens": "$.usage.prompt_tokens",
                "completion_tokens": "$.usage.completion_tokens",
                "error": "$.error.message",
            },
        },
    }
)

BUILTIN_CONFIGS: dict[str, EndpointRequestConfig] = {"tgi": TGI, "openai-chat": OPENAI_CHAT}
