"""Stateless completions for the OpenAI-compatible gateway: the caller sends the whole
conversation (system, user and assistant messages) and one model answers the last user message.

Nothing is saved unless the request asks (`save`): then the exchange becomes a conversation in
the user's history, with the answer saved however it ended. A call made with an API key is
counted against that key (requests and tokens), however it ends: a stopped stream counts the
tokens it produced. Anything wrong with the request raises before any model is called.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatbot.api.attachments import ImageInput
from chatbot.chat.admission import ApiKeyMetering
from chatbot.chat.api_keys import ApiKey
from chatbot.chat.attachments import with_image_blocks
from chatbot.chat.destinations import GatewayAnswer
from chatbot.chat.pipeline import Admission, Job, Pipeline, PromptContext
from chatbot.chat.store import HistoryStore
from chatbot.errors import InvalidRequestError, MessageTooLongError
from chatbot.models.adapters import Turn
from chatbot.models.endpoints import Endpoint
from chatbot.models.events import EventStream


class CompletionMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    messages: list[CompletionMessage] = Field(min_length=1)
    #: Overrides of the model's default generation parameters.
    parameters: dict[str, Any] = Field(default_factory=dict)
    #: Save the exchange as a conversation in the user's history.
    save: bool = False
    #: Images with the last message, for a model that takes images (issue 23).
    images: list[ImageInput] = Field(default_factory=list)


def split_conversation(messages: Sequence[CompletionMessage]) -> tuple[str | None, list[Turn], str]:
    """System text (None for the model's own), earlier turns, and the message to answer."""
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content.strip())
    turns = [Turn(role=m.role, content=m.content) for m in messages if m.role != "system" and m.content]
    if not turns or turns[-1].role != "user" or not turns[-1].content.strip():
        raise InvalidRequestError(
            "The last message must be a user message with some text: it is what gets answered."
        )
    return system or None, turns[:-1], turns[-1].content


class Completions:
    """`/v1` completions: each runs through the one generation pipeline into a `GatewayAnswer`."""

    def __init__(
        self,
        endpoint_for: Callable[[str], Endpoint],
        store: HistoryStore,
        *,
        max_message_chars: int,
        pipeline: Pipeline | None = None,
    ):
        """`endpoint_for` gives a chat model's endpoint by name (raising UnknownModelError)."""
        self._endpoint_for = endpoint_for
        self._store = store
        self._max_message_chars = max_message_chars
        self._pipeline = pipeline or Pipeline()

    def start(
        self,
        user_id: str,
        request: CompletionRequest,
        *,
        key: ApiKey | None = None,
        cancelled: threading.Event | None = None,
        admissions: Sequence[Admission] = (),
    ) -> EventStream:
        """Raises for a bad request; the returned events (start, tokens, done or error) say the rest."""
        system, history, message = split_conversation(request.messages)
        if len(message) > self._max_message_chars:
            raise MessageTooLongError(
                f"The last message has {len(message)} characters; the limit is {self._max_message_chars}."
            )
        endpoint = self._endpoint_for(request.model)
        if request.images:
            endpoint.spec.check_takes_images()  # a 400 before any call
        # Streamed from the model even when the caller wants the answer whole: a caller who goes
        # away can then stop the decoding (a blocking call runs to its end whoever waits for it).
        generation = self._pipeline.prepare(
            endpoint,
            request.parameters,
            history,
            message,
            PromptContext(system=system),
        )
        generation = with_image_blocks(generation, [image.block() for image in request.images])
        if key is not None:
            admissions = (*admissions, ApiKeyMetering(self._store, key))
        grant = self._pipeline.admit(user_id, [generation], admissions)
        destination = GatewayAnswer(self._store, user_id, history, message, save=request.save)
        return self._pipeline.run([Job(generation, destination)], grant, cancelled or threading.Event())
