"""How many answers one user may have streaming at once, across every process and Lambda
instance of a deployment (each Lambda instance serves one stream, so nothing in memory can
count them): an expiring lease per stream, kept in the store.

A stream takes its leases before it starts (one per lane: each lane is a model call) and gives
them back when it ends, however it ends (done, stopped, disconnected, failed). A process that
dies gives nothing back: its leases expire `ttl_s` after their last renewal, and a live stream
renews its own on a timer (every third of `ttl_s`) while it is open, whether or not events come:
a long prefill or a wait in the model server's queue sends nothing for minutes, and a lease
renewed only by events would expire under it and let the user pass the cap. Taking leases is one atomic step in the store (Postgres: one
INSERT ... ON CONFLICT DO UPDATE ... WHERE that counts under the row's lock; DynamoDB: a write
conditioned on the version read), so no two processes can both take the last one.

The quotas' `concurrent_streams` limit is this mechanism.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from chatbot.errors import ChatbotError

T = TypeVar("T")


class TooManyStreamsError(ChatbotError):
    """The user has as many answers streaming as one person may."""

    code = "too_many_streams"
    http_status = 429

    def __init__(self, cap: int, wanted: int):
        lanes = f" (this one needs {wanted})" if wanted > 1 else ""
        super().__init__(
            f"You already have the most answers streaming at once that one person may: {cap}{lanes}. "
            "Wait for one to finish, or stop one, then send again."
        )


@dataclass
class Lease:
    """Leases a stream holds: give them back with `StreamLeases.release` (twice is harmless)."""

    user_id: str
    ids: tuple[str, ...]
    renewed_at: float
    released: bool = field(default=False)


class StreamLeases(ABC):
    """The per-user cap on concurrent streams, over one store (see the module's note)."""

    def __init__(
        self,
        cap: int,
        *,
        ttl_s: float = 120,
        clock: Callable[[], float] = time.time,
        renew_every_s: float | None = None,
    ):
        if cap < 1:
            raise ValueError("the cap on concurrent streams must be at least 1")
        self.cap = cap
        self.ttl_s = ttl_s
        self._clock = clock
        #: How often an open stream's timer renews its leases (real seconds; a third of their life).
        self.renew_every_s = ttl_s / 3 if renew_every_s is None else renew_every_s

    def acquire(self, user_id: str, count: int = 1) -> Lease:
        """`count` leases for the user's new stream, or TooManyStreamsError (nothing taken)."""
        if count > self.cap:
            raise TooManyStreamsError(self.cap, count)
        now = self._clock()
        ids = tuple(secrets.token_hex(8) for _ in range(count))
        if not self._take(user_id, ids, now=now, expires_at=now + self.ttl_s):
            raise TooManyStreamsError(self.cap, count)
        return Lease(user_id, ids, renewed_at=now)

    def renew_if_due(self, lease: Lease) -> None:
        """Extends the leases of a live stream, at most once per third of their lifetime."""
        now = self._clock()
        if not lease.released and now - lease.renewed_at >= self.ttl_s / 3:
            self._renew(lease.user_id, lease.ids, expires_at=now + self.ttl_s)
            lease.renewed_at = now

    def renew(self, lease: Lease) -> None:
        """Extends the leases of a live stream now."""
        now = self._clock()
        if not lease.released:
            self._renew(lease.user_id, lease.ids, expires_at=now + self.ttl_s)
            lease.renewed_at = now

    def keep_renewed(self, lease: Lease) -> threading.Event:
        """Renews the lease every `renew_every_s` from a thread of its own until it is released
        or the returned event is set (set it when the stream ends)."""
        stop = threading.Event()

        def renew_until_stopped() -> None:
            while not stop.wait(self.renew_every_s) and not lease.released:
                # A store hiccup must not break a live answer: the next tick tries again.
                with contextlib.suppress(Exception):
                    self.renew(lease)

        threading.Thread(target=renew_until_stopped, name="stream-lease-renewal", daemon=True).start()
        return stop

    def release(self, lease: Lease) -> None:
        if not lease.released:
            lease.released = True
            self._give_back(lease.user_id, lease.ids)

    def held(self, events: Iterator[T], lease: Lease) -> Iterator[T]:
        """`events`, renewing the lease on a timer while they are read (silences included) and
        releasing it when they end (closed or failed included). Closing this closes `events` too:
        a stop reaches the generation. Never read, the lease is never renewed: it expires."""
        renewing = self.keep_renewed(lease)
        try:
            yield from events
        finally:
            renewing.set()
            try:
                if (close := getattr(events, "close", None)) is not None:
                    close()
            finally:
                with contextlib.suppress(Exception):  # the lease expires if the store is away
                    self.release(lease)

    @abstractmethod
    def _take(self, user_id: str, ids: tuple[str, ...], *, now: float, expires_at: float) -> bool:
        """Adds the leases if the user's unexpired ones and these stay within the cap; atomically."""

    @abstractmethod
    def _renew(self, user_id: str, ids: tuple[str, ...], *, expires_at: float) -> None:
        """Moves the expiry of those of the leases still held."""

    @abstractmethod
    def _give_back(self, user_id: str, ids: tuple[str, ...]) -> None: ...


class UnlimitedStreams(StreamLeases):
    """No cap (a deployment that turned it off): leases are handed out and kept nowhere."""

    def __init__(self) -> None:
        super().__init__(cap=1 << 30)

    def keep_renewed(self, lease: Lease) -> threading.Event:
        return threading.Event()  # nothing kept, nothing to renew: no thread per stream

    def _take(self, user_id: str, ids: tuple[str, ...], *, now: float, expires_at: float) -> bool:
        return True

    def _renew(self, user_id: str, ids: tuple[str, ...], *, expires_at: float) -> None:
        pass

    def _give_back(self, user_id: str, ids: tuple[str, ...]) -> None:
        pass
