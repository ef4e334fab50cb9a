"""The quota ledger's contract, against both real stores: Postgres and DynamoDB (on moto)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from chatbot.chat.dynamodb_store import TABLE_SCHEMA
from chatbot.policy.dynamodb_quotas import DynamoDBQuotaStore
from chatbot.policy.limits import Limits, LimitsConfig
from chatbot.policy.postgres_quotas import PostgresQuotaStore
from chatbot.policy.quotas import QuotaExceededError, QuotaStore, RateLimitedError, TokenPrice, UsageRow
from chatbot.postgres import ConnectionPool, create_database
from tests.chatbot.chat.conftest import serialise_moto

_databases = itertools.count()
LEASE_S = 900
DEFAULTS = LimitsConfig(roles={"user": Limits(tokens_per_day=1000), "admin": Limits()})


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dynamodb_quotas(monkeypatch, clock: Clock) -> Iterator[QuotaStore]:
    serialise_moto(monkeypatch)
    with mock_aws():
        boto3.resource("dynamodb", region_name="us-east-1").create_table(TableName="history", **TABLE_SCHEMA)
        yield DynamoDBQuotaStore("history", DEFAULTS, region="us-east-1", lease_s=LEASE_S, clock=clock)


@pytest.fixture
def postgres_quotas(postgres_server_url: str, clock: Clock) -> Iterator[QuotaStore]:
    pool = ConnectionPool(
        create_database(postgres_server_url, f"quotas_{next(_databases)}"), max_connections=24
    )
    yield PostgresQuotaStore(pool, DEFAULTS, lease_s=LEASE_S, clock=clock)
    pool.close()


@pytest.fixture(params=["postgres", "dynamodb"])
def quotas(request) -> QuotaStore:
    return request.getfixturevalue(f"{request.param}_quotas")


def test_an_answer_holds_its_prompt_plus_max_new_tokens_and_settles_to_the_true_count(quotas: QuotaStore):
    held = quotas.admit("alice", model="m", prompt_tokens=100, max_new_tokens=200)
    assert held.max_new_tokens == 200
    assert quotas.used("user:alice", "day:2026-12-07") == 300
    row = quotas.settle(held, prompt_tokens=100, completion_tokens=50)
    assert (row.prompt_tokens, row.completion_tokens, row.day) == (100, 50, "2026-12-07")
    assert quotas.used("user:alice", "day:2026-12-07") == 150, "the hold became the true count"


def test_max_new_tokens_is_clipped_to_what_remains_and_nothing_left_is_refused(
    quotas: QuotaStore, clock: Clock
):
    quotas.settle(quotas.admit("bob", model="m", prompt_tokens=0, max_new_tokens=900), 0, 900)
    clipped = quotas.admit("bob", model="m", prompt_tokens=40, max_new_tokens=500)
    assert clipped.max_new_tokens == 60, "100 remained: 40 of prompt, 60 new"
    with pytest.raises(QuotaExceededError) as refused:
        quotas.admit("bob", model="m", prompt_tokens=1, max_new_tokens=10)
    error = refused.value
    assert (error.http_status, error.code, error.limit, error.remaining) == (
        429,
        "quota_exceeded",
        "tokens_per_day",
        0,
    )
    assert error.resets_at == datetime(2026, 12, 8, tzinfo=UTC)
    assert error.retry_after_s == 13.5 * 3600
    assert quotas.admit("carol", model="m", prompt_tokens=1, max_new_tokens=10), "others are not affected"
    clock.now += timedelta(days=1)  # a new UTC day
    assert quotas.admit("bob", model="m", prompt_tokens=1, max_new_tokens=10).max_new_tokens == 10


def test_a_stopped_or_failed_answer_counts_what_it_generated(quotas: QuotaStore):
    held = quotas.admit("dan", model="m", prompt_tokens=10, max_new_tokens=500)
    quotas.settle(held, prompt_tokens=10, completion_tokens=7)
    assert quotas.used("user:dan", "day:2026-12-07") == 17


def test_a_hold_nobody_settles_comes_back_after_its_lease(quotas: QuotaStore, clock: Clock):
    """The process died mid-answer: nobody settles; the next admit after the lease gets it back."""
    quotas.admit("erin", model="m", prompt_tokens=0, max_new_tokens=1000)
    with pytest.raises(QuotaExceededError):
        quotas.admit("erin", model="m", prompt_tokens=0, max_new_tokens=1)
    clock.now += timedelta(seconds=LEASE_S + 1)
    assert quotas.admit("erin", model="m", prompt_tokens=0, max_new_tokens=1000).max_new_tokens == 1000


def test_settling_an_expired_hold_counts_the_true_usage_once(quotas: QuotaStore, clock: Clock):
    late = quotas.admit("fay", model="m", prompt_tokens=0, max_new_tokens=1000)
    clock.now += timedelta(seconds=LEASE_S + 1)
    quotas.admit("fay", model="m", prompt_tokens=0, max_new_tokens=10)  # gives the expired hold back
    quotas.settle(late, 0, 300)
    assert quotas.used("user:fay", "day:2026-12-07") == 310


def test_fifty_concurrent_answers_against_a_nearly_spent_budget_never_pass_it(quotas: QuotaStore):
    quotas.settle(quotas.admit("gus", model="m", prompt_tokens=0, max_new_tokens=950), 0, 950)

    def answer(_: int) -> int:
        try:
            held = quotas.admit("gus", model="m", prompt_tokens=5, max_new_tokens=20)
        except QuotaExceededError:
            return 0
        quotas.settle(held, 5, held.max_new_tokens)  # each generates all it was granted
        return 5 + held.max_new_tokens

    with ThreadPoolExecutor(16) as pool:
        spent = list(pool.map(answer, range(50)))
    assert sum(spent) <= 50, "never more than the 50 tokens that remained"
    assert sum(spent) >= 45, "and the budget was used"
    assert quotas.used("user:gus", "day:2026-12-07") <= 1000


def test_dollars_per_month_clip_by_price(quotas: QuotaStore):
    quotas.set_limits("user:hal", Limits(usd_per_month=1.0), actor="root")
    price = TokenPrice(input=0.001, output=0.01)
    held = quotas.admit("hal", model="m", prompt_tokens=100, max_new_tokens=500, price=price)
    assert held.max_new_tokens == 90, "$1 = 100 prompt tokens at $0.001 + 90 new at $0.01"
    row = quotas.settle(held, 100, 90)
    assert row.cost_usd == pytest.approx(1.0)
    with pytest.raises(QuotaExceededError) as refused:
        quotas.admit("hal", model="m", prompt_tokens=1, max_new_tokens=1, price=price)
    assert refused.value.limit == "usd_per_month"
    assert refused.value.resets_at == datetime(2027, 1, 1, tzinfo=UTC)


def test_concurrent_streams_and_requests_per_minute_are_rates(quotas: QuotaStore, clock: Clock):
    quotas.set_limits("user:ivy", Limits(concurrent_streams=2, requests_per_minute=3), actor="root")
    first = quotas.admit("ivy", model="m", prompt_tokens=1, max_new_tokens=1)
    quotas.admit("ivy", model="m", prompt_tokens=1, max_new_tokens=1)
    with pytest.raises(RateLimitedError) as refused:
        quotas.admit("ivy", model="m", prompt_tokens=1, max_new_tokens=1)
    assert (refused.value.code, refused.value.limit) == ("rate_limited", "concurrent_streams")
    quotas.settle(first, 1, 1)
    quotas.admit("ivy", model="m", prompt_tokens=1, max_new_tokens=1)
    with pytest.raises(RateLimitedError) as refused:
        quotas.admit("ivy", model="m", prompt_tokens=1, max_new_tokens=1)
    # the 4th request of this minute is refused before the stream count is looked at, or after it
    assert refused.value.limit in ("requests_per_minute", "concurrent_streams")
    clock.now += timedelta(minutes=1)
    quotas.set_limits("user:ivy", Limits(requests_per_minute=3), actor="root")
    assert quotas.admit("ivy", model="m", prompt_tokens=1, max_new_tokens=1)


def test_an_api_keys_own_limits_apply_on_top_of_its_users(quotas: QuotaStore):
    quotas.set_limits("key:k1", Limits(tokens_per_day=100), actor="jo")
    held = quotas.admit("jo", model="m", prompt_tokens=10, max_new_tokens=500, key_id="k1")
    assert held.max_new_tokens == 90
    quotas.settle(held, 10, 90)
    with pytest.raises(QuotaExceededError, match="of this API key.s 100 tokens"):
        quotas.admit("jo", model="m", prompt_tokens=1, max_new_tokens=1, key_id="k1")
    assert quotas.admit("jo", model="m", prompt_tokens=1, max_new_tokens=1).max_new_tokens == 1, (
        "the user's own budget still had room"
    )


def test_role_limits_stored_at_runtime_replace_the_defaults_and_are_audited(quotas: QuotaStore, clock: Clock):
    assert quotas.limits_of("kim", ["admin"])[0].tokens_per_day is None, "the most generous role: admin's"
    quotas.set_limits("role:user", Limits(tokens_per_day=5), actor="root")
    assert quotas.limits_of("kim", [])[0].tokens_per_day == 5
    with pytest.raises(QuotaExceededError):
        quotas.admit("kim", model="m", prompt_tokens=10, max_new_tokens=1)
    entry = quotas.audit_log()[0]
    assert (entry.actor, entry.action, entry.target) == ("root", "set_limits", "role:user")
    assert entry.after == {"tokens_per_day": 5}


def test_usage_views_sum_by_day_and_model_by_user_and_by_key(quotas: QuotaStore, clock: Clock):
    price = TokenPrice(input=0.001, output=0.002)
    for model, user, key in [("a", "lee", None), ("a", "lee", "k9"), ("b", "lee", None), ("a", "max", None)]:
        quotas.settle(
            quotas.admit(user, model=model, prompt_tokens=10, max_new_tokens=20, price=price, key_id=key),
            10,
            20,
        )
    clock.now += timedelta(days=1)
    quotas.settle(quotas.admit("lee", model="a", prompt_tokens=1, max_new_tokens=1), 1, 1)
    mine = {(t.day, t.model): t for t in quotas.usage_by_day_and_model("lee", "2026-12-01", "2026-12-31")}
    assert set(mine) == {("2026-12-07", "a"), ("2026-12-07", "b"), ("2026-12-08", "a")}
    assert (mine[("2026-12-07", "a")].answers, mine[("2026-12-07", "a")].completion_tokens) == (2, 40)
    assert mine[("2026-12-07", "a")].cost_usd == pytest.approx(2 * (0.01 + 0.04))
    everyone = {
        (t.user_id, t.model): t.answers for t in quotas.usage_by_user_and_model("2026-12-07", "2026-12-07")
    }
    assert everyone == {("lee", "a"): 2, ("lee", "b"): 1, ("max", "a"): 1}
    keys = quotas.usage_by_key("lee", "2026-12-01", "2026-12-31")
    assert [(k.key_id, k.answers, k.prompt_tokens) for k in keys] == [("k9", 1, 10)]


def test_standing_says_what_remains(quotas: QuotaStore):
    quotas.settle(quotas.admit("ned", model="m", prompt_tokens=100, max_new_tokens=100), 100, 100)
    standing = {s.limit: s for s in quotas.standing("ned", [])}
    assert (standing["tokens_per_day"].used, standing["tokens_per_day"].remaining) == (200, 800)
    assert standing["usd_per_month"].remaining is None, "unlimited"


def test_a_released_hold_counts_nothing(quotas: QuotaStore):
    held = quotas.admit("ola", model="m", prompt_tokens=10, max_new_tokens=990)
    quotas.release(held)
    assert quotas.used("user:ola", "day:2026-12-07") == 0
    assert quotas.usage_by_day_and_model("ola", "2026-12-01", "2026-12-31") == []


def test_usage_rows_added_directly_are_summed_like_settled_ones(quotas: QuotaStore):
    rows = [
        UsageRow(
            user_id=user, model=model, day="2026-12-05", prompt_tokens=3, completion_tokens=4, cost_usd=0.5
        )
        for user in ("pia", "quin")
        for model in ("a", "a", "b")
    ]
    quotas.add_usage_rows(rows)
    mine = {
        (t.model, t.answers, t.prompt_tokens)
        for t in quotas.usage_by_day_and_model("pia", "2026-12-01", "2026-12-31")
    }
    assert mine == {("a", 2, 6), ("b", 1, 3)}
    everyone = quotas.usage_by_user_and_model("2026-12-05", "2026-12-05")
    assert sum(t.cost_usd for t in everyone) == pytest.approx(3.0)
