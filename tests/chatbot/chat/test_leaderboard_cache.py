"""One fit for everyone: instances of the chat API serve the fit stored in the store, refitted by
one of them at a time under the store's lease (both real stores)."""

from __future__ import annotations

import json
import threading

from psycopg2.extras import Json

from chatbot.api.records import utc_now
from chatbot.chat.dynamodb_fits import FIT_KEY
from chatbot.chat.leaderboard import Leaderboard
from chatbot.chat.leaderboard_cache import SharedLeaderboard
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.chat.store import HistoryStore


class Fitter:
    """A fit that counts its calls and can be held back."""

    def __init__(self) -> None:
        self.calls = 0
        self.go = threading.Event()
        self.go.set()

    def __call__(self) -> Leaderboard:
        assert self.go.wait(10), "the test never let the fit finish"
        self.calls += 1
        return Leaderboard(ratings=[], pairs=[], votes=self.calls)


def instance(store: HistoryStore, fitter: Fitter, **options) -> SharedLeaderboard:
    return SharedLeaderboard(store, fitter, reread_s=0.0, lease_retry_s=0.01, **options)


def test_a_cold_instance_serves_the_stored_fit_and_fits_nothing(store: HistoryStore):
    warm, cold = Fitter(), Fitter()
    stored = instance(store, warm).refit()
    assert stored is not None
    assert stored.version == 1
    board = instance(store, cold).get()
    assert (board.version, board.votes) == (1, 1)
    assert cold.calls == 0


def test_a_vote_refits_once_and_every_instance_serves_the_new_version(store: HistoryStore):
    voter_fit, other_fit = Fitter(), Fitter()
    voter, other = instance(store, voter_fit, wait_for_votes_s=10), instance(store, other_fit)
    assert voter.get().version == 1, "the first reader fits and stores"
    voter.votes_arrived()
    assert voter.get().version == 2, "the voter waits for its vote's refit"
    assert other.get().version == 2
    assert (voter_fit.calls, other_fit.calls) == (2, 0)


def test_the_stored_fit_is_served_while_a_refit_runs(store: HistoryStore):
    fitter = Fitter()
    board = instance(store, fitter, wait_for_votes_s=0.01)
    assert board.get().version == 1
    fitter.go.clear()
    board.votes_arrived()
    assert board.get().version == 1, "the last fit, while the refit waits"
    fitter.go.set()
    board._wait_for_votes_s = 10
    assert board.get().version == 2


def test_a_refit_waits_its_turn_while_another_instance_holds_the_lease(store: HistoryStore):
    fitter = Fitter()
    board = instance(store, fitter, wait_for_votes_s=0.05)
    assert store.take_refit_lease("another-instance", utc_now(), 60)
    assert board.refit() is None
    board.votes_arrived()
    assert store.stored_fit() is None, "no fit while the other holds the lease"
    store.end_refit_lease("another-instance")
    board._wait_for_votes_s = 10
    assert board.get().version == 1, "the vote's refit, once the lease is free"


# -- upgrade: a fit stored by an older release, in a shape this one cannot read ------------------

OLDER_BOARD = {
    "ratings": [{"model": "m", "elo": 1000.0, "bradley_terry": 1000.0, "votes": 3}],
    "pairs": [],
    "votes": 3,
}


def store_older_fit(store: HistoryStore, version: int) -> None:
    """The fit as an older release stored it: its board in a shape this release does not read."""
    if isinstance(store, PostgresHistoryStore):
        with store._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO arena_fit (id, version, fitted_at, body) VALUES (1, %s, now(), %s)",
                (
                    version,
                    Json({"version": version, "fitted_at": utc_now().isoformat(), "board": OLDER_BOARD}),
                ),
            )
    else:
        body = {"version": version, "fitted_at": utc_now().isoformat(), "board": OLDER_BOARD}
        store._table.put_item(Item={**FIT_KEY, "version": version, "body": json.dumps(body)})


def test_a_fit_an_older_release_stored_is_refitted_as_the_next_version(store: HistoryStore):
    store_older_fit(store, version=7)
    older = store.stored_fit()
    assert older is not None
    assert (older.version, older.board) == (7, None), "read, but not as this release's board"
    fitter = Fitter()
    board = instance(store, fitter).get()
    assert (board.version, fitter.calls) == (8, 1)
    stored = store.stored_fit()
    assert stored is not None
    assert stored.board == board
