"""The one typed stream of events from a model endpoint up to the UI.

Every layer passes these through unchanged (the chat API adds a lane id for compare
sessions); none invents its own. On the wire each event is one JSON line.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

if TYPE_CHECKING:  # the schema imports nothing of the library, so the web app's image holds it alone
    from chatbot import errors

#: eos: the model ended its answer; stop_sequence: a stop word ended it; length: it hit
#: max_new_tokens; stopped: the user stopped it; error: it failed part-way; tool_calls: it
#: ended by calling tools (their ToolCallEvents came before).
FinishReason = Literal["eos", "stop_sequence", "length", "stopped", "error", "tool_calls"]

_BACKEND_FINISH_REASONS: dict[str, FinishReason] = {
    "eos_token": "eos",  # TGI
    "stop": "eos",  # OpenAI: end of turn or a stop sequence; it does not say which
    "stop_sequence": "stop_sequence",
    "length": "length",
    "end_turn": "eos",  # Bedrock Converse
    "max_tokens": "length",  # Bedrock Converse
    "tool_use": "tool_calls",  # Bedrock Converse
    "tool_calls": "tool_calls",  # OpenAI
}


def normalize_finish_reason(reason: str | None) -> FinishReason:
    return _BACKEND_FINISH_REASONS.get(reason or "", "eos")


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: In compare sessions, the lane (column) the event belongs to; None otherwise.
    lane: str | None = None


class LaneView(BaseModel):
    """One lane of a turn as a user may see it: the UI draws panes from these, never from ids it
    makes up itself (chatbot.chat.arena decides what is hidden and when it is revealed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The lane's id, as events and votes name it; None for a chat's one lane.
    id: str | None
    #: What the pane is called: "Model A" in compare and arena sessions, the model in a chat.
    label: str
    #: The model answering; None while an arena hides it.
    model: str | None
    #: True while an arena hides the model (until the vote).
    hidden: bool = False


class SessionEvent(_Event):
    """First event of a turn: where the conversation is stored, and the lanes that answer."""

    type: Literal["session"] = "session"
    session_id: str
    title: str
    #: The seq of the saved prompt; votes name a round by it.
    round: int
    lanes: list[LaneView] = []


class StartEvent(_Event):
    type: Literal["start"] = "start"
    #: The ModelSpec name answering (a placeholder such as "Model A" while an arena hides it).
    model: str


class Source(BaseModel):
    """A retrieved passage an answer drew on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document_id: str
    document_name: str
    chunk_index: int
    score: float
    #: Who uploaded the document (None only in answers saved before sources said so).
    uploaded_by: str | None = None
    #: "private" (the reader's own) or the shared workspace it came from.
    workspace: str | None = None


class SourcesEvent(_Event):
    type: Literal["sources"] = "sources"
    sources: list[Source]


class TokenEvent(_Event):
    type: Literal["token"] = "token"
    #: New text to append. May hold more than one token (batched and blocking modes).
    text: str
    #: Tokens generated so far, as the model server's stream counts them (one per TGI event,
    #: each call's own count in batched mode); None where the server does not say.
    completion_tokens: int | None = None


class ToolCallEvent(_Event):
    """The model calls a tool (one event per call, whole: its arguments are parsed)."""

    type: Literal["tool_call"] = "tool_call"
    #: The call's id, as the model (or the server) named it; the result names it too.
    id: str
    name: str
    arguments: dict[str, Any]
    #: The MCP server the tool belongs to; None for a tool the caller runs (the /v1 gateway).
    server: str | None = None


class ToolResultEvent(_Event):
    """What a tool returned. Untrusted text: shown escaped, and delimited in the next prompt."""

    type: Literal["tool_result"] = "tool_result"
    id: str
    name: str
    content: str
    #: The call failed (the server was down, timed out, or the tool reported an error).
    is_error: bool = False
    #: The result was longer than the cap and was cut.
    truncated: bool = False


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Tokens in the prompt, as the model server counted them (None if it did not say).
    prompt_tokens: int | None = None
    #: Tokens generated, as the model server counted them; None (shown as "—") if it did not
    #: say. Never a count of text pieces: a piece may hold several tokens.
    completion_tokens: int | None = None


class Metrics(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Time to first token, from the call to the first text.
    ttft_ms: float | None = None
    #: Completion tokens per second after the first token; None when the tokens are not known.
    tokens_per_s: float | None = None
    total_ms: float


class DoneEvent(_Event):
    type: Literal["done"] = "done"
    finish_reason: FinishReason
    usage: Usage
    metrics: Metrics


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    #: One of the `code`s of chatbot.errors.
    code: str
    #: What went wrong and what to do, in words a user understands.
    message: str

    @classmethod
    def from_exception(cls, exc: errors.ChatbotError) -> ErrorEvent:
        return cls(code=exc.code, message=str(exc))


Event = Annotated[
    SessionEvent
    | StartEvent
    | SourcesEvent
    | TokenEvent
    | ToolCallEvent
    | ToolResultEvent
    | DoneEvent
    | ErrorEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

#: Events as a generator: its reader may close it early (a stop, a closed connection), and
#: closing it closes the model's stream, so the server stops decoding.
EventStream = Generator[Event, None, None]


def event_to_json_line(event: Event) -> bytes:
    return event.model_dump_json().encode() + b"\n"


def event_from_json_line(line: bytes | str) -> Event:
    return EVENT_ADAPTER.validate_json(line)
