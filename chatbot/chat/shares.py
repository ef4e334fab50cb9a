"""Share links (issue 23): a read-only snapshot of one conversation, found by an unguessable id.

The link copies the conversation as its owner may see it at that moment (an arena's models stay
hidden if they were), so later turns, edits or a deletion do not change what it shows. Any
signed-in user of the deployment may open a link; a public link (no sign-in) exists only where
an administrator allowed them. A revoked or unknown id is the same 404.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from chatbot.api.everyday import SharedConversation, SharedMessage, ShareOut
from chatbot.api.records import utc_now
from chatbot.chat.sessions import SessionQueries
from chatbot.chat.store import HistoryStore
from chatbot.errors import ChatbotError

#: 32 URL-safe characters: 192 random bits.
_ID_BYTES = 24
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


class ShareNotFoundError(ChatbotError):
    code = "share_not_found"
    http_status = 404

    def __init__(self) -> None:
        super().__init__(
            "No shared conversation has this link. It may have been revoked; ask its owner for a new one."
        )


class PublicSharesOffError(ChatbotError):
    code = "public_shares_off"
    http_status = 403

    def __init__(self) -> None:
        super().__init__(
            "Public links are off on this deployment: links open for signed-in users only. "
            "An administrator can allow them (CHATBOT_PUBLIC_SHARE_LINKS=true)."
        )


class Share(BaseModel):
    """A link as the stores keep it: its owner, and the snapshot it serves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: secrets.token_urlsafe(_ID_BYTES))
    user_id: str
    session_id: str
    title: str
    kind: str
    public: bool = False
    created_at: datetime = Field(default_factory=utc_now)
    revoked_at: datetime | None = None
    messages: list[SharedMessage] = Field(default_factory=list)

    def as_listed(self) -> ShareOut:
        return ShareOut(
            id=self.id,
            session_id=self.session_id,
            title=self.title,
            public=self.public,
            created_at=self.created_at,
            revoked_at=self.revoked_at,
            path=f"/shared/{self.id}",
        )

    def as_shown(self) -> SharedConversation:
        return SharedConversation(
            id=self.id,
            title=self.title,
            kind=self.kind,
            shared_by=self.user_id,
            created_at=self.created_at,
            messages=self.messages,
        )


class ShareStore(Protocol):
    def add_share(self, share: Share) -> Share: ...

    def find_share(self, share_id: str) -> Share | None:
        """The link, revoked or not; None for an id never made."""
        ...

    def list_shares(self, user_id: str) -> list[Share]:
        """The user's links, revoked ones included, newest first, without their snapshots."""
        ...

    def revoke_share(self, user_id: str, share_id: str, at: datetime) -> Share:
        """Revoking twice keeps the first time. Raises ShareNotFoundError, also for another user's link."""
        ...


def is_share_id(text: str) -> bool:
    return bool(_ID_PATTERN.fullmatch(text))


def share_session(
    store: HistoryStore,
    shares: ShareStore,
    user_id: str,
    session_id: str,
    *,
    public: bool,
    public_allowed: bool,
) -> Share:
    if public and not public_allowed:
        raise PublicSharesOffError()
    conversation = SessionQueries(store).get_conversation(user_id, session_id)  # 404: not the user's
    messages = [
        SharedMessage(
            seq=m.seq,
            role=m.role,
            content=m.content,
            lane=m.lane,
            model=m.model,
            status=m.status,
            created_at=m.created_at,
        )
        for m in conversation.messages
    ]
    session = conversation.session
    return shares.add_share(
        Share(
            user_id=user_id,
            session_id=session.id,
            title=session.title,
            kind=session.kind,
            public=public,
            messages=messages,
        )
    )


def open_share(shares: ShareStore, share_id: str, *, signed_in: bool, public_allowed: bool) -> Share:
    """The link's snapshot for a viewer; unknown, malformed and revoked ids are the same 404."""
    share = shares.find_share(share_id) if is_share_id(share_id) else None
    if share is None or share.revoked_at is not None:
        raise ShareNotFoundError()
    if not signed_in and not (share.public and public_allowed):
        raise ShareNotFoundError()  # a link that is not public does not exist for strangers
    return share


def revoke_share(shares: ShareStore, user_id: str, share_id: str, at: datetime) -> Share:
    if not is_share_id(share_id):
        raise ShareNotFoundError()
    return shares.revoke_share(user_id, share_id, at)
