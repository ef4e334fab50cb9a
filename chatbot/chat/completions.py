"""Stateless completions for the OpenAI-compatible gateway: the caller sends the whole
conversation (system, user and assistant messages) and one model answers the last user message.

Nothing is saved unless the request asks (`save`): then the exchange becomes a conversation in
the user's history, with the answer saved however it ended. A call made with an API key is
counted against that key (requests and tokens), however it ends: a stopped stream counts the
tokens it produced. Anything wrong with the request raises before any model is called.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatbot.api.answer import Answer
from chatbot.api.records import Message, Session, title_from, utc_now
from chatbot.chat.api_keys import ApiKey
from chatbot.chat.store import HistoryStore
from chatbot.errors import InvalidRequestError, MessageTooLongError
from chatbot.models.adapters import FittedPrompt, Turn
from chatbot.models.endpoints import ModelEndpoint
from chatbot.models.events import DoneEvent, Event, Usage
from chatbot.models.spec import GenerationParams


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
    def __init__(
        self,
        endpoint_for: Callable[[str], ModelEndpoint],
        store: HistoryStore,
        *,
        max_message_chars: int,
    ):
        """`endpoint_for` gives a chat model's endpoint by name (raising UnknownModelError)."""
        self._endpoint_for = endpoint_for
        self._store = store
        self._max_message_chars = max_message_chars

    def start(
        self,
        user_id: str,
        request: CompletionRequest,
        *,
        key: ApiKey | None = None,
        cancelled: threading.Event | None = None,
    ) -> Iterator[Event]:
        """Raises for a bad request; the returned events (start, tokens, done or error) say the rest."""
        system, history, message = split_conversation(request.messages)
        if len(message) > self._max_message_chars:
            raise MessageTooLongError(
                f"The last message has {len(message)} characters; the limit is {self._max_message_chars}."
            )
        endpoint = self._endpoint_for(request.model)
        params = endpoint.spec.resolve_parameters(request.parameters)
        fitted = endpoint.fit_prompt(history, message, params, system=system)
        # Streamed from the model even when the caller wants the answer whole: a caller who goes
        # away can then stop the decoding (a blocking call runs to its end whoever waits for it).
        events = endpoint.stream(fitted.prompt, params)
        turn = _Turn(user_id, request, endpoint, params, fitted, history, message, key)
        return self._run(turn, events, cancelled or threading.Event())

    def _run(self, turn: _Turn, events: Iterator[Event], cancelled: threading.Event) -> Iterator[Event]:
        answer = Answer()
        try:
            for event in events:
                if cancelled.is_set():
                    answer.end("stopped")
                    break
                if isinstance(event, DoneEvent):
                    event = event.model_copy(update={"usage": turn.with_prompt_tokens(event.usage)})
                answer.feed(event)
                yield event
        except GeneratorExit:
            answer.end("stopped")  # the caller closed the stream
            raise
        finally:
            events.close()  # closes the model's stream: the server stops decoding
            answer.end("error", "The model's stream ended before the answer did. Try again.")
            usage = turn.with_prompt_tokens(answer.usage or Usage())
            if turn.key is not None:
                # Tokens the server did not count are not guessed: they count as none.
                self._store.record_api_key_use(
                    turn.key, usage.prompt_tokens or 0, usage.completion_tokens or 0, utc_now()
                )
            if turn.request.save:
                self._save(turn, answer, usage)

    def _save(self, turn: _Turn, answer: Answer, usage: Usage) -> None:
        session = self._store.create_session(Session(user_id=turn.user_id, title=title_from(turn.message)))
        for earlier in turn.history:
            self._store.append_message(
                turn.user_id, session.id, Message(role=earlier.role, content=earlier.content)
            )
        prompt = self._store.append_message(
            turn.user_id, session.id, Message(role="user", content=turn.message)
        )
        saved = Message(
            role="assistant",
            content=answer.text,
            status=answer.status,
            model=turn.endpoint.spec.name,
            parameters=turn.params.model_dump(),
            usage=usage,
            metrics=answer.metrics,
            error=answer.error,
            reply_to=prompt.seq,
        )
        self._store.append_message(turn.user_id, session.id, saved)


class _Turn:
    """One completion while it runs: what was asked, and what came back so far."""

    def __init__(
        self,
        user_id: str,
        request: CompletionRequest,
        endpoint: ModelEndpoint,
        params: GenerationParams,
        fitted: FittedPrompt,
        history: list[Turn],
        message: str,
        key: ApiKey | None,
    ):
        self.user_id, self.request, self.endpoint, self.params = user_id, request, endpoint, params
        self.fitted, self.history, self.message, self.key = fitted, history, message, key

    def with_prompt_tokens(self, usage: Usage) -> Usage:
        """The backend's prompt count, or our estimate where it did not say."""
        if usage.prompt_tokens is not None:
            return usage
        return usage.model_copy(update={"prompt_tokens": self.fitted.estimated_tokens})
