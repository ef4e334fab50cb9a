"""The usage views, built from the ledger's sums: a user's own, the organisation's, as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from chatbot.api.quotas import (
    AuditEntry,
    KeyUsage,
    OrganisationUsage,
    Period,
    UsageReport,
    UsageSort,
    UsageTotal,
    UserUsage,
)
from chatbot.policy.limits import utc_day, utc_month
from chatbot.policy.quotas import QuotaStore


def period_days(period: Period, now: datetime) -> tuple[str, str]:
    """The first and last UTC day of the period that holds `now` (a month: its 1st to today)."""
    today = utc_day(now)
    return (today, today) if period == "day" else (f"{utc_month(now)}-01", today)


def _by_model(totals: Iterable[UsageTotal]) -> list[UsageTotal]:
    sums: dict[str, UsageTotal] = {}
    for total in totals:
        model = total.model or "?"
        current = sums.get(model) or UsageTotal(model=model)
        sums[model] = current.model_copy(
            update={
                "answers": current.answers + total.answers,
                "prompt_tokens": current.prompt_tokens + total.prompt_tokens,
                "completion_tokens": current.completion_tokens + total.completion_tokens,
                "cost_usd": current.cost_usd + total.cost_usd,
            }
        )
    return [sums[model] for model in sorted(sums)]


def usage_report(
    store: QuotaStore, user_id: str, roles: Iterable[str], period: Period, now: datetime
) -> UsageReport:
    first, last = period_days(period, now)
    by_day = store.usage_by_day_and_model(user_id, first, last)
    by_model = _by_model(by_day)
    limits, _ = store.limits_of(user_id, roles)
    return UsageReport(
        period=period,
        first_day=first,
        last_day=last,
        prompt_tokens=sum(t.prompt_tokens for t in by_model),
        completion_tokens=sum(t.completion_tokens for t in by_model),
        cost_usd=sum(t.cost_usd for t in by_model),
        by_model=by_model,
        by_day=by_day,
        limits=limits,
        standing=store.standing(user_id, roles),
    )


_SORT_KEYS = {
    "cost": lambda u: (-u.cost_usd, u.user_id),
    "tokens": lambda u: (-(u.prompt_tokens + u.completion_tokens), u.user_id),
    "answers": lambda u: (-u.answers, u.user_id),
    "user": lambda u: u.user_id,
}


def organisation_usage(
    store: QuotaStore, period: Period, sort: UsageSort, now: datetime
) -> OrganisationUsage:
    first, last = period_days(period, now)
    totals = store.usage_by_user_and_model(first, last)
    users: dict[str, UserUsage] = {}
    for total in totals:
        user = users.get(total.user_id or "") or UserUsage(
            user_id=total.user_id or "", answers=0, prompt_tokens=0, completion_tokens=0, cost_usd=0
        )
        users[user.user_id] = user.model_copy(
            update={
                "answers": user.answers + total.answers,
                "prompt_tokens": user.prompt_tokens + total.prompt_tokens,
                "completion_tokens": user.completion_tokens + total.completion_tokens,
                "cost_usd": user.cost_usd + total.cost_usd,
            }
        )
    return OrganisationUsage(
        period=period,
        first_day=first,
        last_day=last,
        users=sorted(users.values(), key=_SORT_KEYS[sort]),
        by_model=_by_model(totals),
    )


def key_usage(store: QuotaStore, user_id: str, period: Period, now: datetime) -> list[KeyUsage]:
    first, last = period_days(period, now)
    return [
        KeyUsage(
            key_id=total.key_id or "",
            answers=total.answers,
            prompt_tokens=total.prompt_tokens,
            completion_tokens=total.completion_tokens,
            cost_usd=total.cost_usd,
        )
        for total in store.usage_by_key(user_id, first, last)
    ]


def _csv_cell(value: object) -> object:
    """A cell a spreadsheet will not run as a formula (user names are other people's text)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv(header: list[str], rows: Iterable[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(cell) for cell in row])
    return out.getvalue()


def organisation_csv(usage: OrganisationUsage) -> str:
    return _csv(
        ["user", "answers", "prompt_tokens", "completion_tokens", "cost_usd"],
        (
            [u.user_id, u.answers, u.prompt_tokens, u.completion_tokens, f"{u.cost_usd:.6f}"]
            for u in usage.users
        ),
    )


def audit_csv(entries: Iterable[AuditEntry]) -> str:
    import json

    return _csv(
        ["at", "actor", "action", "target", "before", "after"],
        (
            [e.at.isoformat(), e.actor, e.action, e.target, json.dumps(e.before), json.dumps(e.after)]
            for e in entries
        ),
    )
