"""The quotas' contract: limits, usage reports, the organisation's usage and the audit log
(GET /usage, GET /admin/usage, PUT /admin/limits/{role}, PUT /admin/users/{name}/limits,
GET /admin/audit). The ledger (chatbot/policy/quotas.py) keeps what these report."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The fields of `Limits`, in the order they are shown.
LIMIT_FIELDS = ("tokens_per_day", "usd_per_month", "concurrent_streams", "requests_per_minute")
LimitName = Literal["tokens_per_day", "usd_per_month", "concurrent_streams", "requests_per_minute"]
Period = Literal["day", "month"]


class Limits(BaseModel):
    """Each field null (the default) is unlimited. Which fields were given matters for an
    override (`model_fields_set`): only those replace the roles' values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Prompt plus completion tokens per UTC day, as the model server or Bedrock counts them.
    tokens_per_day: int | None = Field(None, ge=0)
    #: US dollars per UTC month, from the price table (chatbot/pricing.py).
    usd_per_month: float | None = Field(None, ge=0)
    #: Answers streaming at once (each lane of a compare or arena round is one).
    concurrent_streams: int | None = Field(None, ge=0)
    #: Requests started per minute (each lane counts as one).
    requests_per_minute: int | None = Field(None, ge=0)

    def given(self) -> dict[str, float | int | None]:
        """The fields this limits object sets (what an override replaces), nulls included."""
        return {name: getattr(self, name) for name in LIMIT_FIELDS if name in self.model_fields_set}

    @property
    def unlimited(self) -> bool:
        return all(getattr(self, name) is None for name in LIMIT_FIELDS)


class UsageTotal(BaseModel):
    """Usage summed over a group (a day and model, a user and model, a key)."""

    day: str | None = None
    user_id: str | None = None
    model: str | None = None
    key_id: str | None = None
    answers: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class Standing(BaseModel):
    """One limit of a user, with what is used of it and what remains."""

    limit: LimitName
    #: None: unlimited.
    value: float | None
    used: float
    remaining: float | None
    resets_at: datetime | None


class AuditEntry(BaseModel):
    """One administrator action: who, when, what changed."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    actor: str
    action: str
    target: str
    #: The values before and after.
    before: dict = Field(default_factory=dict)
    after: dict = Field(default_factory=dict)


class UsageReport(BaseModel):
    """GET /usage: the caller's usage over the period, and their limits with what remains."""

    period: Period
    #: The period's first and last UTC day (ISO dates).
    first_day: str
    last_day: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    #: Sums per model over the period.
    by_model: list[UsageTotal]
    #: Sums per day and model (for the chart).
    by_day: list[UsageTotal]
    #: The caller's effective limits (null fields are unlimited).
    limits: Limits
    #: Each limit with what is used and what remains now.
    standing: list[Standing]


class UserUsage(BaseModel):
    """One user's sums in the organisation view."""

    user_id: str
    answers: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class OrganisationUsage(BaseModel):
    """GET /admin/usage: every user's sums over the period (sorted as asked), and spend per model."""

    period: Period
    first_day: str
    last_day: str
    users: list[UserUsage]
    by_model: list[UsageTotal]


class KeyUsage(BaseModel):
    """GET /usage/keys: one API key's usage over the period, and its own limits."""

    key_id: str
    answers: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class LimitsOverview(BaseModel):
    """GET /admin/limits: each role's limits and each user's override."""

    roles: dict[str, Limits]
    users: dict[str, Limits]


UsageSort = Literal["cost", "tokens", "answers", "user"]
