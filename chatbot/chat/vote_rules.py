"""Which arena votes count on the leaderboard, and why the others do not.

- An answer that names its own model (an identity leak) voids its vote: the voter could tell
  which model wrote it, so the vote is not blind.
- A vote on an imported session does not count: its round was not run here, its models and
  answers were the importer's (votes cast so before the import made arenas compare sessions).
- At most `max_votes_per_pair_per_day` votes of one user on one set of models count per UTC
  day (configurable): a user clicking the same match-up over and over adds noise, not evidence.

Each voided vote keeps its reason, and the battles export says it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC

from pydantic import BaseModel, ConfigDict, Field

from chatbot.api.records import Vote, is_imported_session

IDENTITY_LEAK = "identity_leak"
OVER_DAILY_LIMIT = "over_daily_limit"
IMPORTED_SESSION = "imported_session"


class VoteRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Votes of one user on one set of models counted per UTC day; the rest are voided.
    max_votes_per_pair_per_day: int = Field(20, ge=1)


def identity_terms(model: str, model_id: str | None = None) -> set[str]:
    """Words that name a model: its name, its repository's last part, and its family
    (the leading letters of the name: "smollm2-135m" -> "smollm", "gemma3-270m" -> "gemma")."""
    terms = {model.lower()}
    if model_id:
        terms.add(model_id.rsplit("/", 1)[-1].lower())
    family = re.match(r"[a-z]+", model.lower())
    if family and len(family.group()) >= 4:
        terms.add(family.group())
    return terms


def leaked_identity(answer: str, model: str, model_id: str | None = None) -> str | None:
    """The word by which an answer names its own model, if it does."""
    text = answer.lower()
    return next((term for term in sorted(identity_terms(model, model_id)) if term in text), None)


def identity_leak_reason(lane_label: str, term: str) -> str:
    return f"{IDENTITY_LEAK}: the answer of {lane_label} names its own model ({term!r})"


def imported_reason() -> str:
    return f"{IMPORTED_SESSION}: the round was imported, not run (and hidden) here"


def over_limit_reason(limit: int) -> str:
    return f"{OVER_DAILY_LIMIT}: more than {limit} votes by this user on these models that day"


def cast_time_reason(vote: Vote) -> str | None:
    """Why a vote does not count, from the vote alone (its daily-limit count aside)."""
    if vote.void_reason:
        return vote.void_reason
    return imported_reason() if is_imported_session(vote.session_id) else None


def daily_key(vote: Vote) -> tuple[str, str, str]:
    """(user, models, UTC day): the daily limit counts the votes of one key."""
    return (vote.user_id, json.dumps(sorted(vote.models)), vote.created_at.astimezone(UTC).date().isoformat())


def void_reasons(votes: Sequence[Vote], rules: VoteRules) -> list[str | None]:
    """Per vote, in the order given (oldest first): None if it counts, else why it does not."""
    seen: Counter[tuple[str, str, str]] = Counter()
    reasons: list[str | None] = []
    for vote in votes:
        reason = cast_time_reason(vote)
        if reason is None:
            seen[daily_key(vote)] += 1
            if seen[daily_key(vote)] > rules.max_votes_per_pair_per_day:
                reason = over_limit_reason(rules.max_votes_per_pair_per_day)
        reasons.append(reason)
    return reasons
