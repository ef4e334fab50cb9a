"""One fit for everyone: the leaderboard, fitted once, stored with its version, served by every
instance of the chat API; and the lease under which one refit runs at a time.

Both stores keep:
- the fit: one record (version, when fitted, the leaderboard). A fit is saved only over an older
  version, in one conditional write, so a refit that outlived its lease cannot overwrite a newer
  one;
- the refit lease: one record (holder, until when). It is taken in one conditional write, when
  no one holds it, its time has run out, or the taker already holds it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from chatbot.chat.leaderboard import Leaderboard


class StoredFit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: 1 for the first fit, one more for each fit after it.
    version: int
    fitted_at: datetime
    #: None when the stored board is one this release cannot read (an older release's shape):
    #: it is refitted, as the next version.
    board: Leaderboard | None
    #: The same fit on each category's votes alone (chatbot/chat/style.py).
    by_category: dict[str, Leaderboard] = {}

    @classmethod
    def read(cls, version: int, body: dict[str, Any]) -> StoredFit:
        """A stored fit as this release reads it (a board it cannot read is None)."""
        by_category = {name: readable_board(board) for name, board in (body.get("by_category") or {}).items()}
        board = readable_board(body.get("board"))
        return cls(
            version=version,
            fitted_at=body["fitted_at"],
            board=board if board is not None and None not in by_category.values() else None,
            by_category={name: board for name, board in by_category.items() if board is not None},
        )


def readable_board(body: dict[str, Any]) -> Leaderboard | None:
    """A stored board as this release reads it, or None if an older release wrote another shape."""
    try:
        return Leaderboard.model_validate(body)
    except ValidationError:
        return None


class FitStore(Protocol):
    def stored_fit(self) -> StoredFit | None:
        """The last fit saved (one read of one record), or None before the first."""
        ...

    def save_fit(self, fit: StoredFit) -> bool:
        """Saves the fit if its version is newer than the stored one's; says whether it did."""
        ...

    def take_refit_lease(self, holder: str, now: datetime, hold_s: float) -> bool:
        """Takes (or extends) the refit lease until now + hold_s, unless someone else holds it
        past `now`; says whether `holder` holds it now."""
        ...

    def end_refit_lease(self, holder: str) -> None:
        """Gives the lease back, if `holder` still holds it."""
        ...
