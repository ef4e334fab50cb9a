"""HistoryStore: the one protocol that the DynamoDB (cloud) and Postgres (local) stores implement.

Every method takes the user id, and a session is only ever found through its owner: another
user's session id behaves exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from chatbot.api.records import Message, Session, SessionPage, Vote
from chatbot.chat.api_keys import MAX_ACTIVE_KEYS, ApiKey
from chatbot.chat.cells import ArenaCounts
from chatbot.chat.fit_store import StoredFit
from chatbot.errors import ChatbotError


class SessionNotFoundError(ChatbotError):
    code = "session_not_found"
    http_status = 404

    def __init__(self, session_id: str):
        super().__init__(f"No conversation {session_id!r} was found. It may have been deleted.")


class VoteExistsError(ChatbotError):
    code = "already_voted"
    http_status = 409

    def __init__(self) -> None:
        super().__init__("You already voted on this round. Start a new round to vote again.")


class HistoryStore(Protocol):
    def create_session(self, session: Session) -> Session: ...

    def get_session(self, user_id: str, session_id: str) -> Session:
        """Raises SessionNotFoundError."""
        ...

    def list_sessions(self, user_id: str, *, limit: int = 20, cursor: str | None = None) -> SessionPage:
        """Newest (most recently updated) first."""
        ...

    def rename_session(self, user_id: str, session_id: str, title: str) -> Session: ...

    def delete_session(self, user_id: str, session_id: str) -> None: ...

    def delete_all_sessions(self, user_id: str) -> int:
        """Returns how many sessions were deleted."""
        ...

    def append_message(self, user_id: str, session_id: str, message: Message) -> Message:
        """Stores the message at the next position; safe under concurrent writers."""
        ...

    def list_messages(self, user_id: str, session_id: str) -> list[Message]:
        """In order of arrival."""
        ...

    def request_stop(self, user_id: str, session_id: str, lane: str | None, at: datetime) -> None:
        """Ask generations of this session (or one lane) started before `at` to stop."""
        ...

    def stop_requested(
        self, user_id: str, session_id: str, lane: str | None, started_at: datetime
    ) -> bool: ...

    def add_vote(self, vote: Vote, *, max_per_pair_per_day: int | None = None) -> Vote:
        """Stores the vote and, for an arena vote, adds to the arena counters in the same atomic
        write (chatbot/chat/cells.py): a vote that does not count (its reason, an imported round,
        or past the daily limit, counted atomically here) is stored with its reason and only
        adds to the voided count. Returns the vote as stored. Raises VoteExistsError if this
        round already has a vote (and then adds to no counter)."""
        ...

    def arena_counts(self) -> ArenaCounts:
        """Every arena counter: a read whose size grows with the cells, not the votes."""
        ...

    def backfill_arena_counts(self) -> int:
        """Once per store, on upgrade: the counters of the votes stored before they were kept.
        Safe to call again or from several processes; returns how many votes it counted in."""
        ...

    def add_votes(self, votes: Sequence[Vote]) -> int:
        """Stores the votes whose round has none yet (an import run twice adds nothing the
        second time); returns how many were added."""
        ...

    def list_votes(self, *, anonymous_only: bool = True) -> list[Vote]:
        """Oldest first."""
        ...

    def session_votes(self, session_id: str) -> list[Vote]: ...

    # -- one fit for everyone (chatbot/chat/fit_store.py) --------------------------------------

    def stored_fit(self) -> StoredFit | None: ...

    def save_fit(self, fit: StoredFit) -> bool: ...

    def take_refit_lease(self, holder: str, now: datetime, hold_s: float) -> bool: ...

    def end_refit_lease(self, holder: str) -> None: ...

    # -- the gateway's API keys (chatbot/chat/api_keys.py) -----------------------------------

    def create_api_key(self, key: ApiKey, *, max_active: int = MAX_ACTIVE_KEYS) -> ApiKey:
        """Raises TooManyApiKeysError if the user already has `max_active` active keys; the
        count and the write are one atomic step, so concurrent creations never pass the cap."""
        ...

    def list_api_keys(self, user_id: str) -> list[ApiKey]:
        """The user's keys, revoked ones included, newest first."""
        ...

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, whoever owns it (the gateway's lookup)."""
        ...

    def revoke_api_key(self, user_id: str, key_id: str, at: datetime) -> ApiKey:
        """Revoking twice keeps the first time. Raises ApiKeyNotFoundError, also for another user's key."""
        ...

    def record_api_key_use(
        self, key: ApiKey, prompt_tokens: int, completion_tokens: int, at: datetime
    ) -> None:
        """Count one gateway call and its tokens against the key."""
        ...


def stop_applies(requests: dict[str, str], lane: str | None, started_at: datetime) -> bool:
    """Both stores keep stop requests as {lane or '*': ISO time}. A generation stops for a
    request on its whole session or its lane made after it started."""
    times = [requests.get("*"), requests.get(lane) if lane else None]
    return any(at is not None and datetime.fromisoformat(at) >= started_at for at in times)
