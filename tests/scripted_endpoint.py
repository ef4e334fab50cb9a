"""A scripted model: a real implementation of the endpoint interface that replays a script
instead of calling a model server, for the fast tests of turn, arena, stop and gateway logic.

Its events come out of the same `model_events` as every real endpoint's (stop-word hold-back,
token counts, Start, Done or Error), its parameters are checked against the spec's backend
bounds as the real endpoint checks them, and its prompt is fitted by the spec's real adapter.
Only the model server is replaced. A script is a list of steps:

- a string: one token of text (counted as one token, as llama.cpp counts them);
- `Fail(error)`: the model server reports `error` part-way (a ChatbotError: its code arrives
  as an ErrorEvent, the tokens before it stay);
- `Crash(exc)`: the connection breaks with an exception nobody typed (it escapes the stream);
- `Hold(event)`: the stream waits until `event` is set, as a slow model does (a test stops a
  generation mid-answer there without timing anything).

Each call is recorded (`calls`): the prompt and parameters it got, the tokens it sent, and
whether it was closed before its script ended: the server stopping decoding.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

from chatbot.errors import ChatbotError
from chatbot.models.adapters import adapter_for
from chatbot.models.endpoints import Endpoint, model_events
from chatbot.models.events import EventStream
from chatbot.models.request_config import ParsedChunk
from chatbot.models.spec import GenerationParams, ModelSpec, StreamingMode
from chatbot.models.stop_words import StopWordFilter


@dataclass(frozen=True)
class Fail:
    error: ChatbotError


@dataclass(frozen=True)
class Crash:
    error: Exception


@dataclass(frozen=True)
class Hold:
    until: threading.Event


Step = str | Fail | Crash | Hold


@dataclass
class ScriptedCall:
    prompt: str | list[dict[str, str]]
    params: GenerationParams
    mode: StreamingMode
    tokens_sent: int = 0
    #: The stream was closed before the script ended (the server would stop decoding).
    closed_early: bool = False
    finished: bool = False
    started: threading.Event = field(default_factory=threading.Event)


class ScriptedEndpoint(Endpoint):
    def __init__(
        self,
        spec: ModelSpec,
        script: Sequence[Step] = ("Hello", " there", "!"),
        *,
        prompt_tokens: int | None = 7,
    ):
        """`prompt_tokens`: what the server says the prompt took (None: it does not say)."""
        super().__init__(spec, adapter_for(spec.model_id, spec.adapter))
        self.script = list(script)
        self.prompt_tokens = prompt_tokens
        self.calls: list[ScriptedCall] = []

    def stream(
        self,
        prompt: str | list[dict[str, str]],
        params: GenerationParams,
        *,
        mode: StreamingMode | None = None,
    ) -> EventStream:
        wire = params.wire_values(self.adapter.stop_words())
        self.spec.endpoint_req_config.build_body(prompt, wire, stream=False)  # the backend's bounds
        call = ScriptedCall(prompt, params, mode or self.spec.streaming)
        self.calls.append(call)
        return model_events(self.spec, self._replay(call), StopWordFilter(wire["stop"] or []))

    def _replay(self, call: ScriptedCall) -> Generator[ParsedChunk, None, None]:
        call.started.set()
        try:
            for step in self.script:
                if call.tokens_sent >= call.params.max_new_tokens:
                    break
                if isinstance(step, Fail):
                    raise step.error
                if isinstance(step, Crash):
                    raise step.error
                if isinstance(step, Hold):
                    step.until.wait()
                    continue
                call.tokens_sent += 1
                yield ParsedChunk(text=step, tokens=1, has_token=True)
            length = call.tokens_sent >= call.params.max_new_tokens
            call.finished = True
            yield ParsedChunk(
                finish_reason="length" if length else "eos_token",
                prompt_tokens=self.prompt_tokens,
                completion_tokens=call.tokens_sent,
            )
        finally:
            call.closed_early = not call.finished


class Scripts:
    """One scripted endpoint per model, made when the service first asks for it."""

    def __init__(self, scripts: dict[str, Sequence[Step]], prompt_tokens: int | None = 7):
        self.scripts, self.prompt_tokens = scripts, prompt_tokens
        self.endpoints: dict[str, ScriptedEndpoint] = {}

    def __call__(self, spec: ModelSpec) -> ScriptedEndpoint:
        endpoint = ScriptedEndpoint(
            spec, self.scripts.get(spec.name, ("Hi", "!")), prompt_tokens=self.prompt_tokens
        )
        self.endpoints[spec.name] = endpoint
        return endpoint
