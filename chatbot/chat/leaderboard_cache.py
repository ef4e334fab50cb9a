"""One leaderboard for every instance of the chat API: the fit stored with its version
(chatbot/chat/fit_store.py), refitted by one instance at a time under the store's lease.

- GET /leaderboard serves the stored fit: one read of one record (at most every `reread_s` per
  process), so a cold instance answers at once, whatever the number of votes.
- A vote starts a refit in the background: take the lease, fit the counters, save the fit as
  the next version, give the lease back. If another instance holds the lease, this one tries
  again until it gets it (its vote may have come after the other's read of the counters).
- A reader right after its own vote waits for that vote's refit, up to `wait_for_votes_s`,
  then gets the stored fit.
- In AWS a schedule also refits (infra/components/arena_refit.py), so a quiet arena converges too.
- Before any fit is stored, the first reader fits (under the lease, and stores it); if another
  instance is fitting, it fits for itself meanwhile rather than wait.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from chatbot.chat.fit_store import FitStore, StoredFit
from chatbot.chat.leaderboard import Leaderboard

#: A refit holds the lease this long at most: far longer than a fit (about a second at a
#: million votes), so only a crashed refitter's lease ever runs out.
LEASE_S = 120.0
#: How long to wait before trying again for a lease someone else holds.
LEASE_RETRY_S = 1.0


def _now() -> datetime:
    return datetime.now(UTC)


class SharedLeaderboard:
    def __init__(
        self,
        store: FitStore,
        fit: Callable[[], Leaderboard],
        *,
        fit_categories: Callable[[], dict[str, Leaderboard]] | None = None,
        fit_all: Callable[[], tuple[Leaderboard, dict[str, Leaderboard]]] | None = None,
        holder: str | None = None,
        reread_s: float = 2.0,
        wait_for_votes_s: float = 2.0,
        lease_s: float = LEASE_S,
        lease_retry_s: float = LEASE_RETRY_S,
    ):
        self._store = store
        self._fit = fit
        self._fit_categories = fit_categories
        #: Both fits from one read of the counters (what a refit calls, if given).
        self._fit_all = fit_all
        self.holder = holder or f"refit-{uuid.uuid4().hex[:12]}"
        self._reread_s = reread_s
        self._wait_for_votes_s = wait_for_votes_s
        self._lease_s = lease_s
        self._lease_retry_s = lease_retry_s
        self._changed = threading.Condition()
        self._stored: StoredFit | None = None
        self._read_at = -float("inf")
        #: Votes seen (this process), and those the last refit of this process includes.
        self._wanted, self._have = 0, 0
        self._refitting = False

    # -- reading -------------------------------------------------------------------------------

    def get(self, category: str | None = None) -> Leaderboard:
        """The stored fit's board: of every vote, or of one category's."""
        board = self._get()
        if category is None:
            return board
        with self._changed:
            by_category = self._stored.by_category if self._stored is not None else {}
        return by_category.get(category) or Leaderboard(
            ratings=[], pairs=[], votes=0, category=category, categories=board.categories
        )

    def _get(self) -> Leaderboard:
        with self._changed:
            deadline = time.monotonic() + self._wait_for_votes_s
            while self._refitting and self._have < self._wanted:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            fresh = time.monotonic() - self._read_at < self._reread_s
            if fresh and self._stored is not None and self._stored.board is not None:
                return self._stored.board
        stored = self._store.stored_fit()
        if stored is None or stored.board is None:  # none yet, or an older release's shape
            stored = self.refit()
        if stored is None or stored.board is None:  # another instance is fitting: fit for now
            board = self._fit()
            stored = StoredFit(version=0, fitted_at=_now(), board=board)
        else:
            board = stored.board
        with self._changed:
            if self._stored is None or self._stored.board is None or stored.version >= self._stored.version:
                self._stored, self._read_at = stored, time.monotonic()
            return self._stored.board or board

    def stored(self) -> StoredFit | None:
        """The stored fit, read now."""
        return self._store.stored_fit()

    # -- refitting ------------------------------------------------------------------------------

    def refit(self) -> StoredFit | None:
        """One refit under the lease, saved as the next version; None if another holds the
        lease (that refit is under way)."""
        if not self._store.take_refit_lease(self.holder, _now(), self._lease_s):
            return None
        try:
            previous = self._store.stored_fit()
            version = (previous.version if previous else 0) + 1
            fitted_at = _now()
            stamp = {"version": version, "fitted_at": fitted_at}
            if self._fit_all is not None:
                board, boards = self._fit_all()
            else:
                board, boards = self._fit(), (self._fit_categories() if self._fit_categories else {})
            board = board.model_copy(update=stamp)
            by_category = {
                name: category_board.model_copy(update=stamp) for name, category_board in boards.items()
            }
            stored = StoredFit(version=version, fitted_at=fitted_at, board=board, by_category=by_category)
            return stored if self._store.save_fit(stored) else self._store.stored_fit()
        finally:
            self._store.end_refit_lease(self.holder)

    def votes_arrived(self) -> None:
        with self._changed:
            self._wanted += 1
            if not self._refitting:
                self._refitting = True
                threading.Thread(target=self._refit_for_votes, name="leaderboard-refit", daemon=True).start()

    def _refit_for_votes(self) -> None:
        """Refits until one started after the last vote seen here is stored."""
        while True:
            with self._changed:
                if self._have >= self._wanted:
                    self._refitting = False
                    self._changed.notify_all()
                    return
                wanted = self._wanted
            try:
                stored = self.refit()
            except Exception:  # the stored fit stays served; the next vote or schedule refits
                stored = None
                wanted = -1
            with self._changed:
                if stored is not None:
                    self._have = max(self._have, wanted)
                    if self._stored is None or stored.version >= self._stored.version:
                        self._stored, self._read_at = stored, time.monotonic()
                elif wanted == -1:
                    self._refitting = False
                    self._changed.notify_all()
                    return
                self._changed.notify_all()
            if stored is None:
                time.sleep(self._lease_retry_s)
