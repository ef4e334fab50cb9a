"""The admissions of the generation pipeline today (see `pipeline` for the stage they fill):

- `StreamLeaseAdmission`: the per-user cap on answers streaming at once, one lease per answer
  of the request, taken together (or a 429), renewed while the events are read, given back when
  they end;
- `ApiKeyMetering`: a `/v1` call made with an API key counts its requests and tokens on the key,
  however the answer ends (a stopped stream counts what it produced).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence

from chatbot.api.records import utc_now
from chatbot.chat.api_keys import ApiKey
from chatbot.chat.pipeline import Admission, Generation, Grant, Settled
from chatbot.chat.store import HistoryStore
from chatbot.policy.stream_leases import Lease, StreamLeases


class StreamLeaseAdmission(Admission):
    def __init__(self, leases: StreamLeases):
        self._leases = leases

    def admit(self, user_id: str, generations: Sequence[Generation]) -> Grant:
        # One atomic step for every lane: two lanes never hold the last lease between them.
        return _LeaseGrant(self._leases, self._leases.acquire(user_id, len(generations)))


class _LeaseGrant(Grant):
    def __init__(self, leases: StreamLeases, lease: Lease):
        self._leases, self._lease = leases, lease
        self._renewing: threading.Event | None = None

    def begin(self) -> None:
        # Renewed on a timer, not per event: a long prefill sends nothing for minutes.
        self._renewing = self._leases.keep_renewed(self._lease)

    def end(self) -> None:
        if self._renewing is not None:
            self._renewing.set()
        with contextlib.suppress(Exception):  # the lease expires if the store is away
            self._leases.release(self._lease)


class ApiKeyMetering(Admission):
    def __init__(self, store: HistoryStore, key: ApiKey):
        self._store, self._key = store, key

    def admit(self, user_id: str, generations: Sequence[Generation]) -> Grant:
        return _KeyUse(self._store, self._key)


class _KeyUse(Grant):
    def __init__(self, store: HistoryStore, key: ApiKey):
        self._store, self._key = store, key

    def settle(self, generation: Generation, settled: Settled) -> None:
        usage = settled.billable
        self._store.record_api_key_use(
            self._key, usage.prompt_tokens or 0, usage.completion_tokens or 0, utc_now()
        )
