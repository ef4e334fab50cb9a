"""Deleting a user's data (issue 21, "Leaving"): what the chat API answers, and what the audit
log keeps, when an administrator removes someone together with their data.

Every field counts what this deletion removed; a second deletion of the same user finds nothing
left and answers zeros. Arena votes are not deleted: they stay, under an opaque id that says
nothing of the user, so the leaderboard does not change (`votes_anonymised` counts them).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ErasureReport(BaseModel):
    """How much of one user's data a deletion removed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Conversations (chat, compare and arena sessions) and their messages.
    sessions: int = Field(0, ge=0)
    messages: int = Field(0, ge=0)
    #: Share links of their conversations, with their snapshots.
    shares: int = Field(0, ge=0)
    #: Their thumbs on answers (the approval counters stay: they name nobody).
    feedback: int = Field(0, ge=0)
    #: Pins and folders of their conversations.
    marks: int = Field(0, ge=0)
    #: Files they attached to chat turns.
    attachments: int = Field(0, ge=0)
    #: Documents they uploaded (their private ones, and shared ones they uploaded), and their
    #: chunks with the vectors.
    documents: int = Field(0, ge=0)
    chunks: int = Field(0, ge=0)
    #: Stored objects removed: attachment files and document objects (S3, or the data folder).
    files: int = Field(0, ge=0)
    #: API keys, revoked ones included.
    api_keys: int = Field(0, ge=0)
    #: Per-answer usage rows (and the day sums built from them), holds, budget counters, and the
    #: limits set for the user or their keys.
    usage_rows: int = Field(0, ge=0)
    holds: int = Field(0, ge=0)
    counters: int = Field(0, ge=0)
    limits: int = Field(0, ge=0)
    #: Arena and compare votes kept under an opaque id instead of the user's.
    votes_anonymised: int = Field(0, ge=0)

    def __add__(self, other: ErasureReport) -> ErasureReport:
        return ErasureReport(
            **{name: getattr(self, name) + getattr(other, name) for name in ErasureReport.model_fields}
        )

    def summary(self) -> str:
        """In words, for the page that asked: "2 conversations (14 messages), 1 API key, ..."."""
        parts = [
            f"{self.sessions} conversation{_s(self.sessions)} ({self.messages} message{_s(self.messages)})",
            f"{self.documents} document{_s(self.documents)}",
            f"{self.attachments} attached file{_s(self.attachments)}",
            f"{self.api_keys} API key{_s(self.api_keys)}",
            f"{self.usage_rows} usage row{_s(self.usage_rows)}",
        ]
        kept = f"{self.votes_anonymised} arena vote{_s(self.votes_anonymised)} kept, anonymised"
        return ", ".join(parts) + f"; {kept}"

    def total(self) -> int:
        """Everything removed or anonymised: 0 when nothing of the user was left."""
        return sum(getattr(self, name) for name in ErasureReport.model_fields)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


class UserRemoved(BaseModel):
    """DELETE /users/{name}?delete_data=true, and DELETE /users/{name}/data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str
    #: Whether the account itself was removed (DELETE /users/{name}/data keeps it).
    account_removed: bool
    keys_revoked: int = 0
    data: ErasureReport
