"""Messages as the pages show them, whether read back from history or just answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from chatbot.api.answer import Answer
from chatbot.api.attachments import AttachmentRef
from chatbot.api.records import Message
from chatbot.api.tools import ToolStepView
from chatbot.models.events import Metrics, Source, Usage


@dataclass(frozen=True)
class Shown:
    role: Literal["user", "assistant"]
    content: str
    #: The compare lane (a, b, c, d); None for chat messages and for prompts sent to every lane.
    lane: str | None = None
    model: str | None = None
    #: complete, stopped, error, or warming_up (the model was starting: nothing was saved).
    status: str = "complete"
    error: str | None = None
    usage: Usage | None = None
    metrics: Metrics | None = None
    sources: list[Source] = field(default_factory=list)
    #: Assistant messages: the tools called and what they returned (shown collapsed).
    tool_steps: list[ToolStepView] = field(default_factory=list)
    #: Assistant messages: the seq of the prompt they answer (votes name rounds by it).
    reply_to: int | None = None
    seq: int | None = None
    #: Questions: the files attached to them (shown as chips under the question).
    attachments: list[AttachmentRef] = field(default_factory=list)

    @classmethod
    def from_stored(cls, message: Message) -> Shown:
        return cls(
            role="user" if message.role == "user" else "assistant",
            content=message.content,
            lane=message.lane,
            model=message.model,
            status=message.status,
            error=message.error,
            usage=message.usage,
            metrics=message.metrics,
            sources=list(message.sources),
            tool_steps=[ToolStepView.model_validate(step.model_dump()) for step in message.tool_steps],
            reply_to=message.reply_to,
            seq=message.seq,
            attachments=list(message.attachments),
        )

    @classmethod
    def from_answer(cls, answer: Answer, reply_to: int | None = None) -> Shown:
        return cls(
            role="assistant",
            content=answer.text,
            lane=answer.lane,
            model=answer.model or None,
            status=answer.status,
            error=answer.error,
            usage=answer.usage,
            metrics=answer.metrics,
            sources=list(answer.sources),
            tool_steps=[ToolStepView.model_validate(step.model_dump()) for step in answer.tool_steps],
            reply_to=reply_to,
        )
