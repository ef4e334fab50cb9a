"""What callers ask of the chat API, and so of the ChatService (pydantic, validated before
anything is saved). The web app builds the same classes, so a request it sends is one the API
takes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chatbot.api.attachments import ATTACHMENT_ID_PATTERN, MAX_ATTACHMENTS_PER_TURN
from chatbot.api.model_access import PresetName

#: Two lanes: left, right, tie or both_bad. More lanes: best (with best_lane) or all_bad.
VoteChoice = Literal["left", "right", "tie", "both_bad", "best", "all_bad"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Presettable(_Request):
    #: A preset published to the caller (GET /presets): its system prompt and parameters apply
    #: under the request's own, and a new conversation is saved with its name (issue 21).
    preset: PresetName | None = None
    #: The answers' system prompt (the preset's when omitted; the model's own without either).
    system_prompt: str | None = Field(None, max_length=8000)


class ChatRequest(_Presettable):
    #: Continue this conversation; a new one is started when omitted.
    session_id: str | None = None
    model: str
    message: str
    #: Overrides of the model's default generation parameters.
    parameters: dict[str, Any] = Field(default_factory=dict)
    #: False asks for the whole answer at once (the endpoint's blocking call).
    streaming: bool = True
    #: Ground the answer in the user's documents.
    use_documents: bool = False
    #: With use_documents: search the shared workspace too (other people's uploads). Off
    #: unless asked: a shared document is someone else's text in this chat's prompt.
    search_shared: bool = False
    #: Tools the model may call, as "server/tool" (MCP servers published to the user; issue 24).
    tools: list[str] = Field(default_factory=list, max_length=32)
    #: "auto" (the model chooses), "required" (it must call one first), or a "server/tool" it
    #: must call first; after a forced call the model answers from the result.
    tool_choice: str = Field("auto", max_length=200)
    #: Edit and branch (issue 23): the seq of an earlier question of this chat that this message
    #: replaces; it starts a new branch from where that question was, and the first stays.
    edit_of: int | None = Field(None, ge=1)
    #: The seq of the message this one follows (the branch the page shows); the newest branch
    #: when omitted. Not with edit_of.
    parent: int | None = Field(None, ge=1)
    #: Files attached to this question (ids from POST /attachments, the caller's own): their
    #: text goes into the prompt, delimited as untrusted, and stays for later turns while the
    #: context window allows (issue 23).
    attachments: list[Annotated[str, StringConstraints(pattern=ATTACHMENT_ID_PATTERN)]] = Field(
        default_factory=list, max_length=MAX_ATTACHMENTS_PER_TURN
    )


class CompareRequest(_Presettable):
    session_id: str | None = None
    #: A new compare session: the 2 to 4 models side by side.
    models: list[str] = Field(default_factory=list)
    #: A new arena session: the service picks `lanes` models at random and hides them until a vote.
    arena: bool = False
    lanes: int = Field(2, ge=2, le=4)
    message: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    streaming: bool = True
    use_documents: bool = False
    search_shared: bool = False


class VoteRequest(_Request):
    session_id: str
    #: The round: the seq of the prompt whose answers are judged (from the session event).
    round: int = Field(ge=1)
    #: Two lanes: left, right, tie or both_bad. More lanes: best (with best_lane) or all_bad.
    choice: VoteChoice
    best_lane: str | None = None


class RenameRequest(_Request):
    title: str = Field(min_length=1, max_length=200)


class StopRequest(_Request):
    #: One lane of a compare session; every lane when omitted.
    lane: str | None = None
