"""What one person may spend: limits per role, per user and per API key, and how they combine.

- A role's limits apply to each of its members, not to the role as a whole. `user` is everyone;
  `admin` is the administrators; any other name is a group (a Cognito group, or a `roles` entry
  of the local users file).
- A user in several roles gets the most generous value of each field (null, unlimited, beats
  any number).
- A user override replaces the role values of the fields it sets (a field set to null there
  makes that user unlimited in it); fields it leaves out stay the roles'.
- An API key's own limits apply on top: the stricter of the key's and its user's.

Days and months are UTC. The defaults come from the stack file (`chatbot:limits`) or the local
config (CHATBOT_LIMITS); administrators change them at runtime (stored, see `quotas.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chatbot.api.quotas import LIMIT_FIELDS, Limits

__all__ = ["LIMIT_FIELDS", "Limits", "LimitsConfig", "effective_limits"]

#: The role everyone has.
EVERYONE = "user"
#: The administrators' role (auth.ADMIN).
ADMINISTRATOR = "admin"
#: What a role name may look like (a Cognito group name's characters).
ROLE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$"


def _more_generous(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else max(a, b)


def _stricter(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


class LimitsConfig(BaseModel):
    """The defaults: limits per role. The stack file's `chatbot:limits` and CHATBOT_LIMITS (JSON)
    take this shape, e.g. `{"user": {"tokens_per_day": 200000}, "admin": {}}` (role -> limits)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: dict[str, Limits] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _roles_at_the_top(cls, data: object) -> object:
        """`{"user": {...}, "admin": {...}}` is short for `{"roles": {"user": {...}, ...}}`."""
        if isinstance(data, dict) and "roles" not in data:
            return {"roles": data}
        return data

    @field_validator("roles")
    @classmethod
    def _role_names(cls, roles: dict[str, Limits]) -> dict[str, Limits]:
        import re

        for name in roles:
            if not re.match(ROLE_PATTERN, name):
                raise ValueError(f"{name!r} cannot be a role name: use letters, digits, '.', '_', '-'")
        return roles


def effective_limits(
    roles: Iterable[str],
    role_limits: Mapping[str, Limits],
    user_override: Limits | None = None,
    key_limits: Limits | None = None,
) -> Limits:
    """The limits of a user in `roles` (everyone is in `user` too): the most generous of their
    roles' values, the override's given fields instead, and an API key's limits on top."""
    names = {EVERYONE, *roles}
    known = [role_limits[name] for name in sorted(names) if name in role_limits]
    values: dict[str, float | int | None] = {}
    for field in LIMIT_FIELDS:
        if not known:
            values[field] = None
            continue
        value = getattr(known[0], field)
        for limits in known[1:]:
            value = _more_generous(value, getattr(limits, field))
        values[field] = value
    if user_override is not None:
        values |= user_override.given()
    if key_limits is not None:
        values = {field: _stricter(values[field], getattr(key_limits, field)) for field in LIMIT_FIELDS}
    return Limits(**values)


def utc_day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def utc_month(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def utc_minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def next_day(moment: datetime) -> datetime:
    start = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=1)


def next_month(moment: datetime) -> datetime:
    start = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def next_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
