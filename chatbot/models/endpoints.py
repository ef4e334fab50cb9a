"""`Endpoint`, the interface every model is called through, and `SageMakerEndpoint`, which calls
one through boto3's `sagemaker-runtime` client, in three modes.

- native: InvokeEndpointWithResponseStream, parsed by the one stream parser;
- batched: for endpoints that cannot stream, ask for a few tokens at a time with
  InvokeEndpoint and append them to the prompt (the original chatbot's trick);
- none: one blocking InvokeEndpoint.

Every mode yields the same typed events and runs through the same stop-word hold-back.
Closing the event generator (the user pressed stop) closes the HTTP stream, which is how
the model server learns to stop decoding.
"""

from __future__ import annotations

import base64
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Sequence
from typing import Any

import urllib3.exceptions
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, EventStreamError

from chatbot.api.timing import ResponseTimer
from chatbot.errors import (
    ChatbotError,
    ConfigError,
    ModelCallError,
    ModelServerRestartingError,
    ModelStreamError,
    ModelThrottledError,
    ModelWarmingUpError,
    PromptTooLongError,
)
from chatbot.models.adapters import Adapter, FittedPrompt, Turn, adapter_for
from chatbot.models.events import (
    DoneEvent,
    ErrorEvent,
    EventStream,
    StartEvent,
    TokenEvent,
    ToolCallEvent,
    Usage,
    normalize_finish_reason,
)
from chatbot.models.request_config import ParsedChunk
from chatbot.models.spec import GenerationParams, ModelSpec, StreamingMode
from chatbot.models.stop_words import StopWordFilter
from chatbot.models.stream_parser import StreamParser

#: Failures of the connection itself, as urllib3 raises them through botocore's stream.
CONNECTION_ERRORS = (BotoCoreError, urllib3.exceptions.HTTPError, ConnectionError)


class Endpoint(ABC):
    """What the chat service needs of any model, whatever serves it: fit a prompt, stream events.
    Implementations: `SageMakerEndpoint` (here), `bedrock.BedrockEndpoint`."""

    def __init__(self, spec: ModelSpec, adapter: Adapter):
        self.spec = spec
        self.adapter = adapter

    def fit_prompt(
        self,
        history: Sequence[Turn],
        message: str,
        params: GenerationParams,
        context: Sequence[str] = (),
        *,
        system: str | None = None,
    ) -> FittedPrompt:
        """The adapter's prompt, fitted into the window next to `params.max_new_tokens`."""
        budget = self.spec.context_window - params.max_new_tokens
        return self.adapter.prompt(history, message, context, budget_tokens=budget, system=system)

    def ensure_ready(self) -> None:
        """Raise ModelWarmingUpError when the model cannot answer now (a scale-to-zero model with
        no copy running), so that the API answers 503 with Retry-After before it opens a stream
        or saves anything. Most models are always up: nothing to check."""
        return

    @abstractmethod
    def stream(
        self,
        prompt: str | list[dict[str, str]],
        params: GenerationParams,
        *,
        mode: StreamingMode | None = None,
    ) -> EventStream:
        """Start, tokens, then Done or Error. Bad parameters raise ParameterError here,
        before any call; failures after that arrive as an ErrorEvent."""


#: After a scale-to-zero model answered, how long it counts as up without asking again. It
#: scales in only after many idle minutes (its target tracking), so a minute is safe; a model
#: that went down within it fails inside the stream instead, as any model that fails may.
WARM_FOR_S = 60.0


class SageMakerEndpoint(Endpoint):
    """A SageMaker endpoint (or the local model server's SageMaker Runtime API)."""

    def __init__(self, spec: ModelSpec, client: Any):
        """`client` is a boto3 sagemaker-runtime client (see chatbot.models.clients)."""
        super().__init__(spec, adapter_for(spec.model_id, spec.adapter))
        self._client = client
        self._config = spec.endpoint_req_config
        if self.adapter.input_kind != self._config.input_kind:
            raise ConfigError(
                f"model {spec.name!r}: adapter {self.adapter.name!r} writes {self.adapter.input_kind!r} "
                f"but its endpoint_req_config takes {self._config.input_kind!r}."
            )
        if spec.streaming == "batched" and self._config.input_kind != "prompt":
            raise ConfigError(f"model {spec.name!r}: batched streaming needs a text-prompt endpoint.")
        #: time.monotonic() until which a scale-to-zero model counts as up (WARM_FOR_S).
        self._warm_until = 0.0
        self._warm_lock = threading.Lock()

    def ensure_ready(self) -> None:
        """For a scale-to-zero model (an inference component), one call of a single token: with
        no copy running SageMaker refuses it at once (no capacity), and that refusal is what
        its alarm counts to start a copy. A warm model answers it in milliseconds; it is asked
        at most once a minute. Any other failure is left to the real call to report."""
        if not self.spec.inference_component or time.monotonic() < self._warm_until:
            return
        with self._warm_lock:  # many lanes or requests at once ask once
            if time.monotonic() < self._warm_until:
                return
            prompt: str | list[dict[str, str]] = (
                "Hi" if self._config.input_kind == "prompt" else [{"role": "user", "content": "Hi"}]
            )
            wire = GenerationParams(max_new_tokens=1, temperature=0).wire_values([])
            try:
                self._complete(prompt, wire)
            except ModelWarmingUpError:
                raise
            except ChatbotError:
                return  # not a cold model: the real call reports whatever this is
            self._warm_until = time.monotonic() + WARM_FOR_S

    def stream(
        self,
        prompt: str | list[dict[str, str]],
        params: GenerationParams,
        *,
        mode: StreamingMode | None = None,
    ) -> EventStream:
        if not isinstance(prompt, str) and any(message.get("images") for message in prompt):
            self.spec.check_takes_images()  # a 422 before any call
            prompt = with_content_parts(prompt)
        wire = params.wire_values(self.adapter.stop_words())
        self._config.build_body(prompt, wire, stream=False)  # checks the backend's bounds
        source = {"native": self._native, "batched": self._batched, "none": self._blocking}[
            mode or self.spec.streaming
        ](prompt, wire)
        return model_events(self.spec, source, StopWordFilter(wire["stop"] or []))

    # -- sources: each yields ParsedChunks; the last one may carry finish reason and usage --

    def _native(
        self, prompt: str | list[dict[str, str]], wire: dict[str, Any]
    ) -> Generator[ParsedChunk, None, None]:
        body = self._config.build_body(prompt, wire, stream=True)
        response = self._call(self._client.invoke_endpoint_with_response_stream, body)
        events, parser = response["Body"], StreamParser(self._config)
        try:
            for event in events:
                if "PayloadPart" in event:
                    yield from parser.feed(event["PayloadPart"]["Bytes"])
            yield from parser.finish()
        except EventStreamError as exc:
            raise ModelStreamError(f"The model's stream failed part-way: {error_message(exc)}") from exc
        except CONNECTION_ERRORS as exc:
            raise ModelStreamError(
                f"The connection to {self.spec.endpoint_name} broke part-way ({exc}). The partial answer was kept."
            ) from exc
        finally:
            events.close()  # tells the server to stop decoding if we stopped early

    def _batched(
        self, prompt: str | list[dict[str, str]], wire: dict[str, Any]
    ) -> Generator[ParsedChunk, None, None]:
        if not isinstance(prompt, str):  # not met: __init__ allows batching on text-prompt endpoints only
            raise ConfigError(f"model {self.spec.name!r}: batched streaming needs a text-prompt endpoint.")
        remaining, generated = wire["max_new_tokens"], ""
        prompt_tokens: int | None = None
        while remaining > 0:
            step = min(self.spec.batch_tokens, remaining)
            chunk = self._complete(prompt + generated, {**wire, "max_new_tokens": step})
            prompt_tokens = prompt_tokens if prompt_tokens is not None else chunk.prompt_tokens
            remaining -= chunk.completion_tokens or step  # a server that does not count used at most `step`
            generated += chunk.text
            ended = chunk.finish_reason not in (None, "length") or not chunk.text
            yield ParsedChunk(text=chunk.text, tokens=chunk.completion_tokens)
            if ended:
                finish = chunk.finish_reason or "eos_token"
                break
        else:
            finish = "length"
        yield ParsedChunk(finish_reason=finish, prompt_tokens=prompt_tokens)

    def _blocking(
        self, prompt: str | list[dict[str, str]], wire: dict[str, Any]
    ) -> Generator[ParsedChunk, None, None]:
        yield self._complete(prompt, wire)

    def _complete(self, prompt: str | list[dict[str, str]], wire: dict[str, Any]) -> ParsedChunk:
        response = self._call(
            self._client.invoke_endpoint, self._config.build_body(prompt, wire, stream=False)
        )
        try:
            body = response["Body"].read()
        except CONNECTION_ERRORS as exc:
            raise ModelCallError(f"The connection to {self.spec.endpoint_name} broke ({exc}).") from exc
        return self._config.parse_complete(body)

    def _call(self, operation: Callable[..., dict], body: bytes) -> dict:
        try:
            target = {"EndpointName": self.spec.endpoint_name}
            if component := self.spec.inference_component:
                target["InferenceComponentName"] = component
            response = operation(**target, Body=body, ContentType="application/json")
            if component:
                self._warm_until = time.monotonic() + WARM_FOR_S  # it answered: it is up
            return response
        except ClientError as exc:
            raise _from_client_error(self.spec, exc) from exc
        except EndpointConnectionError as exc:
            raise model_server_restarting(exc.kwargs.get("endpoint_url", "")) from exc
        except CONNECTION_ERRORS as exc:
            raise ModelCallError(
                f"Cannot reach the endpoint of {self.spec.name} ({exc}). Is the model server running?"
            ) from exc


def with_content_parts(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat list with each message's attached images (`{"format": "png", "bytes": ...}`, as
    chatbot.chat.attachments puts them) turned into OpenAI-style content parts, the form TGI's
    Messages API (and the OpenAI-style containers) read: the text, then each image as a data URL."""
    converted: list[dict[str, Any]] = []
    for message in messages:
        images = message.get("images")
        message = {key: value for key, value in message.items() if key != "images"}
        if images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": message.get("content") or ""}]
            for image in images:
                data = base64.b64encode(image["bytes"]).decode("ascii")
                url = f"data:image/{image['format']};base64,{data}"
                parts.append({"type": "image_url", "image_url": {"url": url}})
            message["content"] = parts
        converted.append(message)
    return converted


def model_server_restarting(url: str) -> ModelServerRestartingError:
    return ModelServerRestartingError(
        f"The model server is restarting (nothing answers at {url} yet). Try again in a few seconds."
    )


def model_events(
    spec: ModelSpec, source: Generator[ParsedChunk | ToolCallEvent, None, None], stop_filter: StopWordFilter
) -> EventStream:
    """What every endpoint and mode shares: Start, then text with stop words held back, timed
    and counted, ending with Done or Error.

    Tokens are counted only from what the server says: its total when it gives one, else the
    sum of the counts its chunks carry. A chunk with text but no count makes the count unknown."""
    yield StartEvent(model=spec.name)
    timer = ResponseTimer()
    latency_ms: float | None = None
    finish: str | None = None
    prompt_tokens: int | None = None
    total: int | None = None
    counted: int | None = 0
    try:
        for chunk in source:
            if isinstance(chunk, ToolCallEvent):  # a call the model made (chatbot/tools)
                yield chunk
                continue
            if chunk.error is not None:
                raise ModelCallError(f"The model reported an error: {chunk.error}")
            if chunk.tokens is not None and counted is not None:
                counted += chunk.tokens
            elif chunk.text:
                counted = None
            if visible := stop_filter.feed(chunk.text):
                timer.text_arrived()
                yield TokenEvent(text=visible, completion_tokens=counted)
            if chunk.prompt_tokens is not None:
                prompt_tokens = chunk.prompt_tokens
            if chunk.completion_tokens is not None:
                total = chunk.completion_tokens
            finish = chunk.finish_reason or finish
            latency_ms = chunk.latency_ms if chunk.latency_ms is not None else latency_ms
            if stop_filter.stopped:
                finish = "stop_sequence"
                break
    except ChatbotError as exc:
        yield ErrorEvent.from_exception(exc)
        return
    finally:
        source.close()
    tokens = total if total is not None else counted
    if rest := stop_filter.flush():
        timer.text_arrived()
        yield TokenEvent(text=rest, completion_tokens=tokens)
    metrics = timer.metrics(tokens)
    if latency_ms is not None:  # the backend's own figure, without our network time
        metrics = metrics.model_copy(update={"total_ms": latency_ms})
    yield DoneEvent(
        finish_reason=normalize_finish_reason(finish),
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=tokens),
        metrics=metrics,
    )


def error_message(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Message") or str(exc)


#: How long a scale-to-zero model takes to start from no copy: an instance, the container and
#: the weights (AWS: "several minutes").
WARM_UP_S = 300


#: What SageMaker Runtime says when an inference component has no copy to run a call (a
#: ValidationError, HTTP 400): the local stand-in (chatbot/models/cold_start.py) says the same.
NO_CAPACITY_MESSAGE = (
    "Inference Component has no capacity to process this request. ApplicationAutoScaling may be "
    "in-progress (if configured) or try to increase the capacity by invoking "
    "UpdateInferenceComponentRuntimeConfig API."
)


def from_client_error(spec: ModelSpec, exc: ClientError) -> ChatbotError:
    """The typed error for a SageMaker Runtime refusal."""
    return _from_client_error(spec, exc)


def _from_client_error(spec: ModelSpec, exc: ClientError) -> ChatbotError:
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", str(exc))
    if (
        code in ("ThrottlingException", "ModelNotReadyException")
        or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 429
    ):
        return ModelThrottledError(f"{spec.name} is busy right now ({message}). Try again in a moment.")
    if code == "ModelError":
        original = exc.response.get("OriginalMessage") or message
        if "`inputs` tokens" in original:
            return PromptTooLongError(
                f"The conversation is too long for {spec.name}: {original}. Start a new conversation "
                "or ask for fewer new tokens."
            )
        return ModelCallError(f"{spec.name} refused the request: {original}")
    if code == "ValidationError" and "no capacity" in message.lower():
        # A scale-to-zero model with no copy running: this failed call is what its alarm
        # (NoCapacityInvocationFailures) counts to start one.
        minutes = WARM_UP_S // 60
        return ModelWarmingUpError(
            f"{spec.name} is warming up: it runs only while used, and starting it takes about "
            f"{minutes} minutes. Try again then; nothing was lost.",
            retry_after_s=WARM_UP_S,
        )
    if code == "ValidationError" and "not found" in message:
        return ModelCallError(
            f"The endpoint {spec.endpoint_name!r} of {spec.name} does not exist: {message} "
            "Check that the model is deployed and its endpoint_name is right."
        )
    return ModelCallError(f"Calling {spec.name} failed ({code}): {message}")
