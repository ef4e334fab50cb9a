"""The quota ledger: what each person has spent, and holds on what they are about to spend.

At the start of an answer (`admit`) the ledger reserves its prompt tokens plus `max_new_tokens`
against the user's (and the API key's) counters: tokens per UTC day, dollars per UTC month, a
stream, a request in this minute. If less remains than that, `max_new_tokens` is clipped to what
remains; if nothing remains, the answer is refused (QuotaExceededError / RateLimitedError, 429).
When the answer ends, however it ends, `settle` replaces the hold by the true count and writes one
usage row. A hold carries an expiry: if the process dies mid-answer nobody settles it, and the
next admit of that user gives it back (`lease_s` after it was taken).

Every check is atomic in the store: Postgres takes each counter with one conditional
`UPDATE ... WHERE ... RETURNING`, DynamoDB with writes conditioned on the version read, so two
answers can never both take the last of a budget. Several counters of one answer are taken in
one transaction: all of them or none.
"""

from __future__ import annotations

import math
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chatbot.api.quotas import AuditEntry, LimitName, Standing, UsageTotal
from chatbot.errors import ChatbotError
from chatbot.policy.limits import (
    Limits,
    LimitsConfig,
    effective_limits,
    next_day,
    next_minute,
    next_month,
    utc_day,
    utc_minute,
    utc_month,
)

#: A number larger than any budget: the counters of an unlimited field still count.
UNLIMITED = 1e15
#: How long a hold lives if nobody settles it (the process died): longer than any answer may run
#: (a Lambda's timeout is at most 900 s).
DEFAULT_LEASE_S = 900.0

Kind = Literal["tokens", "usd", "streams", "requests"]
_LIMIT_OF_KIND: dict[Kind, LimitName] = {
    "tokens": "tokens_per_day",
    "usd": "usd_per_month",
    "streams": "concurrent_streams",
    "requests": "requests_per_minute",
}


class QuotaRefusalError(ChatbotError):
    """An answer refused by a limit: which one, what remains, and when it resets."""

    code = "quota_refused"
    http_status = 429

    def __init__(
        self,
        message: str,
        *,
        limit: LimitName,
        limit_value: float,
        remaining: float,
        resets_at: datetime | None,
        now: datetime,
    ):
        super().__init__(message)
        self.limit = limit
        self.limit_value = limit_value
        self.remaining = remaining
        self.resets_at = resets_at
        #: Seconds before it is worth trying again (the Retry-After header).
        self.retry_after_s = max(1, math.ceil((resets_at - now).total_seconds())) if resets_at else 5

    def details(self) -> dict[str, object]:
        return {
            "limit": self.limit,
            "limit_value": self.limit_value,
            "remaining": self.remaining,
            "resets_at": self.resets_at.isoformat() if self.resets_at else None,
            "retry_after_s": self.retry_after_s,
        }


class QuotaExceededError(QuotaRefusalError):
    """A budget (tokens per day, dollars per month) is spent."""

    code = "quota_exceeded"
    http_status = 429
    #: What OpenAI calls it (the /v1 gateway answers in OpenAI's shape).
    openai_type = "insufficient_quota"


class RateLimitedError(QuotaRefusalError):
    """Too many requests this minute, or too many answers streaming at once."""

    code = "rate_limited"
    http_status = 429
    openai_type = "rate_limit_exceeded"


class TokenPrice(BaseModel):
    """USD per token of one model (0 where it runs locally or has no price)."""

    model_config = ConfigDict(frozen=True)

    input: float = Field(0.0, ge=0)
    output: float = Field(0.0, ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return prompt_tokens * self.input + completion_tokens * self.output


@dataclass(frozen=True)
class Counter:
    """One counter an answer takes from: whose (`user:NAME` or `key:ID`), which period, its limit."""

    subject: str
    kind: Kind
    period: str
    limit: float | None
    resets_at: datetime | None


@dataclass(frozen=True)
class Hold:
    subject: str
    period: str
    amount: float


@dataclass(frozen=True)
class Reservation:
    """What `admit` took: settle it with `QuotaStore.settle` once the answer ends."""

    id: str
    user_id: str
    key_id: str | None
    model: str
    #: The answer's max_new_tokens, clipped to what remains.
    max_new_tokens: int
    price: TokenPrice
    holds: tuple[Hold, ...]
    expires_at: datetime


class UsageRow(BaseModel):
    """One answer's true usage, as settled."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    key_id: str | None = None
    model: str
    day: str
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    cost_usd: float = Field(ge=0)


def subject_of_user(user_id: str) -> str:
    return f"user:{user_id}"


def subject_of_key(key_id: str) -> str:
    return f"key:{key_id}"


class QuotaStore(ABC):
    """The ledger over one store, plus the runtime limits and the audit log kept beside it."""

    def __init__(
        self,
        defaults: LimitsConfig | None = None,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.defaults = defaults or LimitsConfig()
        self.lease_s = lease_s
        self._clock = clock

    # -- limits -------------------------------------------------------------------------------

    def role_limits(self) -> dict[str, Limits]:
        """Each role's limits: the config's defaults, replaced by what administrators stored."""
        stored = self.stored_limits()
        roles = dict(self.defaults.roles)
        roles |= {
            scope[len("role:") :]: limits for scope, limits in stored.items() if scope.startswith("role:")
        }
        return roles

    def limits_of(
        self, user_id: str, roles: Iterable[str], key_id: str | None = None
    ) -> tuple[Limits, Limits | None]:
        """The user's effective limits, and the key's own (None without a key)."""
        stored = self.stored_limits()
        roles_limits = dict(self.defaults.roles)
        roles_limits |= {s[len("role:") :]: v for s, v in stored.items() if s.startswith("role:")}
        user = effective_limits(roles, roles_limits, stored.get(f"user:{user_id}"))
        key = stored.get(subject_of_key(key_id)) if key_id else None
        return user, key

    def set_limits(self, scope: str, limits: Limits, actor: str) -> Limits | None:
        """Stores the limits of `role:NAME`, `user:NAME` or `key:ID`, recording who did it."""
        before = self.stored_limits().get(scope)
        self._put_limits(scope, limits)
        self.record(
            AuditEntry(
                at=self._clock(),
                actor=actor,
                action="set_limits",
                target=scope,
                before=before.given() if before else {},
                after=limits.given(),
            )
        )
        return before

    # -- admit and settle ---------------------------------------------------------------------

    def admit(
        self,
        user_id: str,
        *,
        roles: Iterable[str] = (),
        model: str,
        prompt_tokens: int,
        max_new_tokens: int,
        price: TokenPrice | None = None,
        key_id: str | None = None,
    ) -> Reservation:
        """Holds prompt + max_new_tokens (clipped to what remains) on every counter of the user
        and key; refuses with QuotaExceededError or RateLimitedError when nothing remains."""
        price = price or TokenPrice()
        user_limits, key_limits = self.limits_of(user_id, roles, key_id)
        now = self._clock()
        counters = self._counters(subject_of_user(user_id), user_limits, now)
        if key_id:
            counters += self._counters(subject_of_key(key_id), key_limits or Limits(), now)
        reservation_id = secrets.token_hex(12)
        expires_at = now + timedelta(seconds=self.lease_s)
        new_tokens, holds = self._reserve(
            user_id,
            reservation_id,
            counters,
            prompt_tokens=prompt_tokens,
            max_new_tokens=max_new_tokens,
            price=price,
            now=now,
            expires_at=expires_at,
        )
        return Reservation(
            id=reservation_id,
            user_id=user_id,
            key_id=key_id,
            model=model,
            max_new_tokens=new_tokens,
            price=price,
            holds=tuple(holds),
            expires_at=expires_at,
        )

    def settle(self, reservation: Reservation, prompt_tokens: int, completion_tokens: int) -> UsageRow:
        """Gives the hold back and counts the true usage (what a stopped or failed answer
        generated, too); writes the answer's usage row. Call it once per reservation."""
        now = self._clock()
        row = UsageRow(
            user_id=reservation.user_id,
            key_id=reservation.key_id,
            model=reservation.model,
            day=utc_day(now),
            prompt_tokens=max(prompt_tokens, 0),
            completion_tokens=max(completion_tokens, 0),
            cost_usd=reservation.price.cost(max(prompt_tokens, 0), max(completion_tokens, 0)),
        )
        subjects = [subject_of_user(reservation.user_id)]
        if reservation.key_id:
            subjects.append(subject_of_key(reservation.key_id))
        self._settle(reservation, row, subjects, now)
        return row

    def release(self, reservation: Reservation) -> None:
        """Gives the hold back and counts nothing: the answer never started (another lane's
        admission refused the request, or nobody read the events)."""
        self._settle(reservation, None, [], self._clock())

    @staticmethod
    def _counters(subject: str, limits: Limits, now: datetime) -> list[Counter]:
        counters = [
            Counter(subject, "tokens", f"day:{utc_day(now)}", limits.tokens_per_day, next_day(now)),
            Counter(subject, "usd", f"month:{utc_month(now)}", limits.usd_per_month, next_month(now)),
        ]
        if limits.concurrent_streams is not None:
            counters.append(Counter(subject, "streams", "streams", limits.concurrent_streams, None))
        if limits.requests_per_minute is not None:
            counters.append(
                Counter(
                    subject,
                    "requests",
                    f"minute:{utc_minute(now)}",
                    limits.requests_per_minute,
                    next_minute(now),
                )
            )
        return counters

    @staticmethod
    def wanted(
        counter: Counter, prompt_tokens: int, new_tokens: int, price: TokenPrice
    ) -> tuple[float, float]:
        """(what this counter is asked for, the least that still admits the answer)."""
        if counter.kind == "tokens":
            return prompt_tokens + new_tokens, prompt_tokens + 1
        if counter.kind == "usd":
            return price.cost(prompt_tokens, new_tokens), price.cost(prompt_tokens, 1)
        return 1, 1

    @staticmethod
    def new_tokens_within(
        counter: Counter, granted: float, prompt_tokens: int, price: TokenPrice, asked: int
    ) -> int:
        """The most new tokens a grant of `granted` on this counter pays for."""
        if counter.kind == "tokens":
            return min(asked, int(granted - prompt_tokens))
        if counter.kind == "usd" and price.output > 0:
            return min(asked, int((granted - prompt_tokens * price.input) / price.output + 1e-9))
        return asked

    @staticmethod
    def refusal(counter: Counter, used: float, now: datetime) -> QuotaRefusalError:
        limit = counter.limit or 0
        remaining = max(limit - used, 0)
        name = _LIMIT_OF_KIND[counter.kind]
        whose = "this API key's" if counter.subject.startswith("key:") else "your"
        if counter.kind == "tokens":
            message = (
                f"Not enough left of {whose} {limit:.0f} tokens for today (UTC): {remaining:.0f} remain, "
                "and this answer needs more. The limit resets at midnight UTC; ask an administrator for more."
            )
            error: type[QuotaRefusalError] = QuotaExceededError
        elif counter.kind == "usd":
            message = (
                f"Not enough left of {whose} ${limit:.2f} for this month (UTC): ${remaining:.4f} remain. "
                "The limit resets on the 1st; ask an administrator for more."
            )
            error = QuotaExceededError
        elif counter.kind == "streams":
            message = f"You already have {whose} {limit:.0f} answers streaming at once. Wait for one to end, or stop one."
            error = RateLimitedError
        else:
            message = (
                f"You have sent {whose} {limit:.0f} requests this minute. Wait a moment, then send again."
            )
            error = RateLimitedError
        return error(
            message, limit=name, limit_value=limit, remaining=remaining, resets_at=counter.resets_at, now=now
        )

    # -- what each store does -----------------------------------------------------------------

    @abstractmethod
    def _reserve(
        self,
        user_id: str,
        reservation_id: str,
        counters: list[Counter],
        *,
        prompt_tokens: int,
        max_new_tokens: int,
        price: TokenPrice,
        now: datetime,
        expires_at: datetime,
    ) -> tuple[int, list[Hold]]:
        """Gives back the user's expired holds, then takes every counter or none (atomically);
        the new tokens granted and the holds taken."""

    @abstractmethod
    def _settle(
        self, reservation: Reservation, row: UsageRow, subjects: list[str], now: datetime
    ) -> None: ...

    @abstractmethod
    def used(self, subject: str, period: str) -> float:
        """Used plus held on one counter."""

    @abstractmethod
    def stored_limits(self) -> dict[str, Limits]: ...

    @abstractmethod
    def _put_limits(self, scope: str, limits: Limits) -> None: ...

    @abstractmethod
    def record(self, entry: AuditEntry) -> None: ...

    @abstractmethod
    def audit_log(self, limit: int = 500) -> list[AuditEntry]:
        """The newest entries first."""

    @abstractmethod
    def usage_by_day_and_model(self, user_id: str, first_day: str, last_day: str) -> list[UsageTotal]: ...

    @abstractmethod
    def usage_by_user_and_model(self, first_day: str, last_day: str) -> list[UsageTotal]: ...

    @abstractmethod
    def add_usage_rows(self, rows: list[UsageRow]) -> None:
        """Usage rows written directly (imports, benchmarks), counters untouched."""

    @abstractmethod
    def usage_by_key(self, user_id: str, first_day: str, last_day: str) -> list[UsageTotal]: ...

    # -- what remains -------------------------------------------------------------------------

    def standing(self, user_id: str, roles: Iterable[str]) -> list[Standing]:
        """Each of the user's limits, what is used and what remains (holds count as used)."""
        limits, _ = self.limits_of(user_id, roles)
        now = self._clock()
        out = []
        for counter in self._counters(subject_of_user(user_id), limits, now):
            used = self.used(counter.subject, counter.period)
            remaining = None if counter.limit is None else max(counter.limit - used, 0)
            out.append(
                Standing(
                    limit=_LIMIT_OF_KIND[counter.kind],
                    value=counter.limit,
                    used=used,
                    remaining=remaining,
                    resets_at=counter.resets_at,
                )
            )
        return out
