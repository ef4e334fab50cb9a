"""How a user's limits are worked out from their roles, their override and their API key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from chatbot.policy.limits import Limits, LimitsConfig, effective_limits, next_month

ROLES = {
    "user": Limits(tokens_per_day=1000, usd_per_month=5, concurrent_streams=2, requests_per_minute=10),
    "research": Limits(tokens_per_day=50_000, usd_per_month=2, concurrent_streams=None),
    "admin": Limits(),
}


def test_everyone_has_the_user_roles_limits():
    assert effective_limits([], ROLES) == ROLES["user"]


def test_several_roles_give_the_most_generous_value_of_each_field_and_null_is_unlimited():
    limits = effective_limits(["research"], ROLES)
    assert limits.tokens_per_day == 50_000
    assert limits.usd_per_month == 5, "the user role's is more generous"
    assert limits.concurrent_streams is None
    assert effective_limits(["admin"], ROLES).unlimited


def test_a_user_override_replaces_only_the_fields_it_sets():
    override = Limits.model_validate({"tokens_per_day": 10, "concurrent_streams": None})
    limits = effective_limits(["research"], ROLES, override)
    assert (limits.tokens_per_day, limits.concurrent_streams, limits.usd_per_month) == (10, None, 5)


def test_a_keys_limits_apply_on_top_the_stricter_wins():
    limits = effective_limits([], ROLES, key_limits=Limits(tokens_per_day=100, usd_per_month=None))
    assert (limits.tokens_per_day, limits.usd_per_month) == (100, 5)


def test_no_limits_configured_is_unlimited():
    assert effective_limits(["x"], {}).unlimited


def test_bad_limits_and_role_names_are_refused():
    with pytest.raises(ValidationError):
        Limits(tokens_per_day=-1)
    with pytest.raises(ValidationError):
        Limits.model_validate({"tokens_per_week": 3})
    with pytest.raises(ValidationError, match="cannot be a role name"):
        LimitsConfig(roles={"<script>": Limits()})


def test_months_roll_over_in_utc():
    assert next_month(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
