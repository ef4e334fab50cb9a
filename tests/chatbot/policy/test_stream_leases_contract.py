"""The stream-lease contract, against both real stores: Postgres and DynamoDB (on moto)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from moto import mock_aws

from chatbot.chat.dynamodb_store import TABLE_SCHEMA
from chatbot.policy.dynamodb_stream_leases import DynamoDBStreamLeases
from chatbot.policy.postgres_stream_leases import PostgresStreamLeases
from chatbot.policy.stream_leases import StreamLeases, TooManyStreamsError
from chatbot.postgres import ConnectionPool, create_database
from tests.chatbot.chat.conftest import serialise_moto

_databases = itertools.count()
CAP = 3
TTL_S = 120
#: Real seconds between an open stream's renewals (the lease clock is the fake `Clock`).
RENEW_EVERY_S = 0.01


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dynamodb_leases(monkeypatch, clock: Clock) -> Iterator[StreamLeases]:
    serialise_moto(monkeypatch)
    with mock_aws():
        boto3.resource("dynamodb", region_name="us-east-1").create_table(TableName="history", **TABLE_SCHEMA)
        yield DynamoDBStreamLeases(
            "history", CAP, region="us-east-1", ttl_s=TTL_S, clock=clock, renew_every_s=RENEW_EVERY_S
        )


@pytest.fixture
def postgres_leases(postgres_server_url: str, clock: Clock) -> Iterator[StreamLeases]:
    pool = ConnectionPool(
        create_database(postgres_server_url, f"leases_{next(_databases)}"), max_connections=24
    )
    yield PostgresStreamLeases(pool, CAP, ttl_s=TTL_S, clock=clock, renew_every_s=RENEW_EVERY_S)
    pool.close()


@pytest.fixture(params=["postgres", "dynamodb"])
def leases(request) -> StreamLeases:
    return request.getfixturevalue(f"{request.param}_leases")


def test_a_user_holds_at_most_the_cap_and_others_are_not_affected(leases: StreamLeases):
    held = [leases.acquire("alice") for _ in range(CAP)]
    with pytest.raises(TooManyStreamsError, match=f"at once that one person may: {CAP}") as refused:
        leases.acquire("alice")
    assert refused.value.http_status == 429
    assert leases.acquire("bob"), "another user's streams are their own"
    leases.release(held[0])
    leases.release(held[0])  # twice is harmless: it frees one lease, not two
    assert leases.acquire("alice")
    with pytest.raises(TooManyStreamsError):
        leases.acquire("alice")


def test_a_stream_of_several_lanes_takes_a_lease_per_lane_or_none(leases: StreamLeases):
    leases.acquire("alice", 2)
    with pytest.raises(TooManyStreamsError, match="this one needs 2"):
        leases.acquire("alice", 2)
    assert leases.acquire("alice", 1), "the refused take took nothing"
    with pytest.raises(TooManyStreamsError):
        leases.acquire("bob", CAP + 1)


def test_leases_of_a_dead_process_expire_and_a_live_streams_renewals_keep_it(
    leases: StreamLeases, clock: Clock
):
    dead = [leases.acquire("alice") for _ in range(CAP - 1)]
    live = leases.acquire("alice")
    clock.now += TTL_S / 2
    leases.renew_if_due(live)
    clock.now += TTL_S / 2 + 1  # the dead ones' lifetime is over; the live one was renewed
    assert dead
    assert leases.acquire("alice", CAP - 1)
    with pytest.raises(TooManyStreamsError):
        leases.acquire("alice")


def test_a_silent_stream_keeps_its_leases_past_their_lifetime(leases: StreamLeases, clock: Clock):
    """A long prefill or a queued request sends no event for minutes: the open stream's timer
    renews its leases anyway, so the cap still counts it."""
    lease = leases.acquire("dora", CAP)
    renewed_at_each_silence: list[float] = []

    def silent_answer() -> Iterator[str]:
        for _ in range(3):  # three silences of half a lifetime: longer than the leases live
            clock.now += TTL_S / 2
            waited = 0
            while lease.renewed_at != clock.now and waited < 1000:  # the timer's next tick
                threading.Event().wait(RENEW_EVERY_S)
                waited += 1
            renewed_at_each_silence.append(lease.renewed_at)
        with pytest.raises(TooManyStreamsError):
            leases.acquire("dora")
        yield "the first token, at last"

    assert list(leases.held(silent_answer(), lease)) == ["the first token, at last"]
    assert renewed_at_each_silence[-1] == clock.now, "renewed during the silence"
    assert leases.acquire("dora", CAP), "and given back at the end"


def _failing_answer() -> Iterator[int]:
    yield 1
    raise RuntimeError("the model failed")


@pytest.mark.parametrize("ending", ["done", "closed", "failed"])
def test_held_events_release_the_lease_however_the_stream_ends(leases: StreamLeases, ending: str):
    lease = leases.acquire("carol", CAP)
    events = leases.held(_failing_answer() if ending == "failed" else iter([1, 2]), lease)
    assert next(events) == 1
    if ending == "closed":
        events.close()  # a stop, or the client went away
    elif ending == "failed":
        with pytest.raises(RuntimeError):
            next(events)
    else:
        assert list(events) == [2]
    assert leases.acquire("carol", CAP), "the leases came back"


def test_concurrent_takers_never_pass_the_cap(leases: StreamLeases):
    def take(_: int) -> bool:
        try:
            leases.acquire("eve")
            return True
        except TooManyStreamsError:
            return False

    with ThreadPoolExecutor(12) as pool:
        taken = list(pool.map(take, range(24)))
    assert sum(taken) == CAP
