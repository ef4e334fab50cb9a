"""What the chat API answers, as the UI reads it. Extra fields are ignored: the API may grow
without breaking the app. Stream events are `chatbot.models.events`, the one shared schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chatbot.models.events import LaneView, Metrics, Source, Usage


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ModelInfo(_Answer):
    name: str
    model_id: str
    task: str = "chat"
    streaming: str = "native"
    context_window: int
    max_new_tokens_limit: int
    default_parameters: dict[str, Any] = Field(default_factory=dict)


class LaneInfo(_Answer):
    id: str
    model: str


class SessionSummary(_Answer):
    id: str
    title: str
    #: chat, compare or arena.
    kind: str = "chat"
    lanes: list[LaneInfo] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    message_count: int = 0


class SessionPage(_Answer):
    sessions: list[SessionSummary]
    cursor: str | None = None


class StoredMessage(_Answer):
    seq: int
    role: str
    content: str
    lane: str | None = None
    #: complete, stopped or error.
    status: str = "complete"
    model: str | None = None
    usage: Usage | None = None
    metrics: Metrics | None = None
    error: str | None = None
    sources: list[Source] = Field(default_factory=list)
    reply_to: int | None = None


class Conversation(_Answer):
    session: SessionSummary
    messages: list[StoredMessage]
    #: The session's lanes as its panes show them.
    lanes: list[LaneView] = Field(default_factory=list)
    #: Arena sessions: whether a vote has revealed the models.
    revealed: bool = True
    #: The rounds (prompt seqs) already voted on.
    voted_rounds: list[int] = Field(default_factory=list)


class ImportOutcome(_Answer):
    imported: int
    skipped: int


class VoteOutcome(_Answer):
    #: The session's lanes, their models revealed by the vote.
    lanes: list[LaneView]


class Rating(_Answer):
    model: str
    bradley_terry: float
    bt_lower: float
    bt_upper: float
    style_controlled: float | None = None
    sc_lower: float | None = None
    sc_upper: float | None = None
    votes: int
    wins: int
    losses: int
    ties: int
    median_ttft_ms: float | None = None
    median_tokens_per_s: float | None = None
    usd_per_1k_output_tokens: float | None = None
    cost_basis: str = "unknown"
    cost_note: str = ""
    pareto_cost: bool = False
    pareto_speed: bool = False
    provisional: bool = False
    retired: bool = False


class PairRecord(_Answer):
    model_a: str
    model_b: str
    a_wins: int
    b_wins: int
    ties: int


class Separation(_Answer):
    higher: str
    lower: str
    votes_to_separate: int | None = None


class Leaderboard(_Answer):
    ratings: list[Rating]
    pairs: list[PairRecord]
    votes: int
    voided: dict[str, int] = Field(default_factory=dict)
    separation: list[Separation] = Field(default_factory=list)
    length_effect: float | None = None
    cheapest_near_top: str | None = None
    provisional_under_votes: int = 50
    style_effects: dict[str, float] = Field(default_factory=dict)
    category: str | None = None
    categories: dict[str, int] = Field(default_factory=dict)
    version: int | None = None
    fitted_at: datetime | None = None


class UserSummary(_Answer):
    name: str
    admin: bool


class UserSaved(_Answer):
    user: UserSummary
    #: False when an existing user's password was reset.
    created: bool


class Limits(_Answer):
    """GET /limits: what the chat API enforces, so the app shows the same figures."""

    max_message_chars: int
    #: None where the deployment has documents off.
    max_document_bytes: int | None = None
    #: Larger files go straight to the documents bucket, up to this; None: no bucket (local).
    max_direct_upload_bytes: int | None = None

    @property
    def largest_upload_bytes(self) -> int:
        """The largest file the Documents page can take, whichever way it is sent."""
        return max(self.max_document_bytes or 0, self.max_direct_upload_bytes or 0)


class DirectUploadForm(_Answer):
    """POST /documents/upload-url: a presigned S3 POST (send `fields`, then the file)."""

    url: str
    fields: dict[str, str]
    key: str
    max_bytes: int


class DocumentSummary(_Answer):
    id: str
    name: str
    #: "private" (the uploader's only) or a shared workspace.
    workspace: str
    size_bytes: int
    chunk_count: int
    created_at: datetime


class UploadUpdate(_Answer):
    """One line of POST /documents: progress, the stored document, or an error."""

    type: str
    fraction: float = 0.0
    progress: dict[str, Any] | None = None
    document: DocumentSummary | None = None
    replaced: bool = False
    code: str | None = None
    message: str | None = None


class SearchHit(_Answer):
    document_name: str
    workspace: str
    chunk_index: int
    text: str
    vector_score: float | None = None
    text_score: float | None = None
    vector_rank: int | None = None
    text_rank: int | None = None
    fused_score: float
    rerank_score: float | None = None


class ApiKeyInfo(_Answer):
    """One of the user's gateway API keys: never the key itself."""

    id: str
    name: str
    #: The key's first characters, to recognise it ("sk-chatbot-AbCd").
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    active: bool = True
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class CreatedApiKey(_Answer):
    #: Shown once, right after it was made; the API keeps only its hash.
    key: str
    info: ApiKeyInfo
