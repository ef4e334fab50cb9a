"""The leaderboard's fit, kept ready: GET /leaderboard answers from the last fit at once, and a
fit runs in the background when votes arrive (the bootstrap over many votes takes seconds).

A reader right after a vote waits for that vote's fit, up to `wait_for_votes_s`, then gets the
previous fit. Votes cast in another process (another Lambda instance) are seen by a refit once
the fit is older than `max_age_s`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chatbot.chat.leaderboard import Leaderboard


class CachedLeaderboard:
    def __init__(
        self,
        compute: Callable[[], Leaderboard],
        *,
        max_age_s: float = 30.0,
        wait_for_votes_s: float = 2.0,
    ):
        self._compute = compute
        self._max_age_s = max_age_s
        self._wait_for_votes_s = wait_for_votes_s
        self._changed = threading.Condition()
        self._board: Leaderboard | None = None
        self._failure: Exception | None = None
        self._fitted_at = 0.0
        #: Votes seen (this process) and votes the current board includes.
        self._wanted, self._have = 0, -1
        self._refreshing = False

    def votes_arrived(self) -> None:
        with self._changed:
            self._wanted += 1
            self._start_refresh()

    def get(self) -> Leaderboard:
        with self._changed:
            if self._board is None or self._have < self._wanted:
                self._start_refresh()
                first = self._board is None
                deadline = time.monotonic() + self._wait_for_votes_s
                while self._refreshing and (self._board is None or self._have < self._wanted):
                    remaining = None if first else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    self._changed.wait(remaining)
                if self._board is None:
                    raise self._failure or RuntimeError("The leaderboard could not be computed.")
            elif time.monotonic() - self._fitted_at > self._max_age_s:
                self._start_refresh()
            return self._board

    def _start_refresh(self) -> None:
        """Called with the lock held."""
        if not self._refreshing:
            self._refreshing = True
            threading.Thread(
                target=self._refresh, args=(self._wanted,), name="leaderboard-fit", daemon=True
            ).start()

    def _refresh(self, generation: int) -> None:
        board, failure = None, None
        try:
            board = self._compute()
        except Exception as exc:  # kept for the reader; the last good board stays served
            failure = exc
        with self._changed:
            self._refreshing = False
            if board is not None:
                self._board, self._have, self._fitted_at = board, generation, time.monotonic()
            else:
                self._failure = failure
            if board is not None and self._have < self._wanted:
                self._start_refresh()  # more votes arrived during the fit
            self._changed.notify_all()
