"""ModelSpec: the one schema that says what a model is, how to deploy it and how to call it.

Read by the Pulumi program (to deploy) and by the app and the model server (to call).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chatbot.api.limits import SEED_MAX
from chatbot.errors import ParameterError
from chatbot.models.deployment import AnyDeployment, BedrockDeployment, parse_deployment
from chatbot.models.request_config import BUILTIN_CONFIGS, EndpointRequestConfig

#: native: the endpoint streams (InvokeEndpointWithResponseStream);
#: batched: ask for a few tokens at a time and append them to the prompt (endpoints that cannot stream);
#: none: one blocking InvokeEndpoint.
StreamingMode = Literal["native", "batched", "none"]


class GenerationParams(BaseModel):
    """Sampling settings for one answer. Bounds here are what any model accepts;
    a model's own limits (`ModelSpec.max_new_tokens_limit`) and its backend's
    (`endpoint_req_config.request.bounds`) are checked on top."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Upper limit on the answer's length, in tokens.
    max_new_tokens: int = Field(256, ge=1)
    #: 0 means greedy decoding; higher is more random.
    temperature: float = Field(0.7, ge=0, le=2)
    #: Nucleus sampling: keep the smallest set of tokens whose probability adds up to this. 1 = off.
    top_p: float = Field(0.9, gt=0, le=1)
    #: Keep only the k most likely tokens. 0 = off.
    top_k: int = Field(0, ge=0)
    #: Above 1 discourages repeating earlier tokens (small models loop without it).
    repetition_penalty: float = Field(1.1, gt=0, le=3)
    #: Extra stop sequences on top of the adapter's own.
    stop: list[str] | None = None
    #: Fixed seed for reproducible sampling.
    seed: int | None = Field(None, ge=0, le=SEED_MAX)

    def wire_values(self, stop_words: list[str]) -> dict[str, Any]:
        """Values for `EndpointRequestConfig.build_body`: greedy decoding leaves the
        sampling knobs out (they mean nothing without sampling, and TGI rejects some)."""
        values = self.model_dump()
        values["stop"] = _unique([*stop_words, *(self.stop or [])]) or None
        values["do_sample"] = self.temperature > 0
        if self.temperature == 0:
            values.update(top_p=None, top_k=None)
        return values


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def inference_component_name(endpoint_name: str) -> str:
    return f"{endpoint_name}-ic"


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    #: What users pick in the UI and name in API calls. Unique.
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    #: The model's repository id, e.g. HuggingFaceTB/SmolLM2-135M-Instruct. Adapters match on it.
    model_id: str = Field(min_length=1)
    #: The SageMaker endpoint (or local server endpoint) that serves it. Bedrock models have none
    #: (it defaults to the name).
    endpoint_name: str = Field(min_length=1, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    #: chat: answers messages; embedding: turns text into vectors; rerank: scores passages.
    task: Literal["chat", "embedding", "rerank"] = "chat"
    #: An adapter name; by default the first adapter whose pattern matches model_id (chat models).
    adapter: str | None = None
    streaming: StreamingMode = "native"
    #: A built-in config name ("tgi", "openai-chat") or a full config.
    endpoint_req_config: EndpointRequestConfig = Field(default_factory=lambda: BUILTIN_CONFIGS["tgi"])
    #: Prompt plus answer, in tokens.
    context_window: int = Field(ge=256)
    default_parameters: GenerationParams = Field(default_factory=GenerationParams)
    #: The most new tokens a caller may ask for.
    max_new_tokens_limit: int = Field(1024, ge=1)
    #: Tokens to ask for per call in batched mode.
    batch_tokens: int = Field(8, ge=1, le=64)
    #: Whether the model takes tools (OpenAI `tools`, Converse `toolConfig`); a request with tools
    #: for a model without them is refused with a message that says which models take them.
    tools: bool = False
    #: Whether the model takes images (issue 23): Converse image blocks for Bedrock, OpenAI-style
    #: content parts for a SageMaker endpoint that takes `messages` (TGI's Messages API); an
    #: image attached for a model without them is refused (422) before any call.
    images: bool = False
    deployment: AnyDeployment

    @property
    def inference_component(self) -> str | None:
        """The inference component a scale-to-zero model runs as (infra deploys it under this
        name; every call must name it, or SageMaker refuses the call); None for other models."""
        return inference_component_name(self.endpoint_name) if self.deployment.scale_to_zero else None

    @model_validator(mode="before")
    @classmethod
    def _bedrock_needs_no_endpoint(cls, value: Any) -> Any:
        """A Bedrock model has no endpoint: its endpoint_name is only a label (the model's name)."""
        if isinstance(value, dict) and not value.get("endpoint_name"):
            deployment = value.get("deployment")
            if isinstance(deployment, dict):
                try:
                    deployment = parse_deployment(deployment)
                except ValueError:
                    return value  # the deployment field says what is wrong with it
            if isinstance(deployment, BedrockDeployment) and isinstance(value.get("name"), str):
                return {
                    **value,
                    "endpoint_name": re.sub(r"[^a-zA-Z0-9]+", "-", value["name"]).strip("-")[:63],
                }
        return value

    @field_validator("endpoint_req_config", mode="before")
    @classmethod
    def _builtin_config(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value not in BUILTIN_CONFIGS:
                raise ValueError(f"unknown built-in config {value!r}; use one of {sorted(BUILTIN_CONFIGS)}")
            return BUILTIN_CONFIGS[value]
        return value

    @model_validator(mode="after")
    def _defaults_within_limits(self) -> ModelSpec:
        if self.default_parameters.max_new_tokens > self.max_new_tokens_limit:
            raise ValueError(
                f"default_parameters.max_new_tokens ({self.default_parameters.max_new_tokens}) "
                f"exceeds max_new_tokens_limit ({self.max_new_tokens_limit})"
            )
        if self.max_new_tokens_limit >= self.context_window:
            raise ValueError("max_new_tokens_limit must leave room for a prompt in context_window")
        if (
            self.images
            and not isinstance(self.deployment, BedrockDeployment)
            and self.endpoint_req_config.input_kind != "messages"
        ):
            # Images reach a SageMaker model only as OpenAI-style content parts of a chat list
            # (TGI's Messages API): a text-prompt endpoint has nowhere to put them. Refused here,
            # at load, so the catalog never offers images to a model that cannot see them.
            raise ValueError(
                "images: true needs an endpoint that takes a chat list (TGI's Messages API): "
                "set endpoint_req_config to 'openai-chat' (or a config that maps 'messages') "
                "with a chat-messages adapter, or drop images: true"
            )
        if isinstance(self.deployment, BedrockDeployment) and self.streaming == "batched":
            raise ValueError(
                "a bedrock model streams natively (converse_stream) or not at all: use native or none"
            )
        return self

    def check_takes_tools(self) -> None:
        """Raise a ParameterError, before any call, when a request brings tools to a model
        whose catalog entry does not say `tools: true`."""
        if not self.tools:
            raise ParameterError(
                f"{self.name} does not take tools. Send the request without tools, or pick a model "
                "whose catalog entry says tools: true."
            )

    def check_takes_images(self) -> None:
        """Raise a ParameterError, before any call, when a request brings images to a model
        whose catalog entry does not say `images: true`."""
        if not self.images:
            raise ParameterError(
                f"{self.name} does not take images. Send the question without the image, or pick a "
                "model whose catalog entry says images: true."
            )

    def resolve_parameters(self, overrides: dict[str, Any] | None = None) -> GenerationParams:
        """The model's defaults with a caller's overrides, checked against this model's limits."""
        merged = {**self.default_parameters.model_dump(), **(overrides or {})}
        try:
            params = GenerationParams.model_validate(merged)
        except ValueError as exc:
            raise ParameterError(f"Invalid parameters for {self.name}: {_first_error(exc)}") from exc
        if params.max_new_tokens > self.max_new_tokens_limit:
            raise ParameterError(
                f"max_new_tokens={params.max_new_tokens} is more than {self.name} allows "
                f"({self.max_new_tokens_limit}). Ask for fewer tokens."
            )
        return params


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}"
    return str(exc)
