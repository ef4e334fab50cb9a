"""Share links (issue 23), against both real stores (the `store` fixture): a snapshot of the
conversation as it was, an unguessable id, revoked or unknown ids alike not found, only the owner
lists and revokes, and public links only where allowed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatbot.api.records import Lane, Message, Session, utc_now
from chatbot.chat.shares import (
    PublicSharesOffError,
    ShareNotFoundError,
    is_share_id,
    open_share,
    revoke_share,
    share_session,
)
from chatbot.chat.store import HistoryStore, SessionNotFoundError


def conversation(store: HistoryStore, user: str = "alice", turns: int = 1, **session) -> str:
    made = Session(user_id=user, title="Colours", **session)
    store.create_session(made)
    for turn in range(turns):
        prompt = store.append_message(user, made.id, Message(role="user", content=f"Question {turn}"))
        store.append_message(
            user,
            made.id,
            Message(role="assistant", content=f"Answer {turn}", model="smollm2-135m", reply_to=prompt.seq),
        )
    return made.id


def share(store: HistoryStore, user: str, session_id: str, *, public: bool = False, allowed: bool = False):
    return share_session(store, store, user, session_id, public=public, public_allowed=allowed)


def test_a_link_serves_the_conversation_as_it_was_when_shared(store: HistoryStore):
    session_id = conversation(store)
    link = share(store, "alice", session_id)
    assert is_share_id(link.id)
    assert len(link.id) >= 32, "192 random bits: unguessable"
    store.append_message("alice", session_id, Message(role="user", content="Asked after sharing"))
    store.rename_session("alice", session_id, "Renamed after sharing")
    shown = open_share(store, link.id, signed_in=True, public_allowed=False).as_shown()
    assert (shown.title, shown.shared_by, shown.kind) == ("Colours", "alice", "chat")
    assert [(m.role, m.content, m.model) for m in shown.messages] == [
        ("user", "Question 0", None),
        ("assistant", "Answer 0", "smollm2-135m"),
    ]
    store.delete_session("alice", session_id)
    assert len(open_share(store, link.id, signed_in=True, public_allowed=False).messages) == 2


def test_a_long_conversation_is_shared_whole(store: HistoryStore):
    session_id = conversation(store, turns=40)
    store.append_message("alice", session_id, Message(role="user", content="x" * 30_000))
    link = share(store, "alice", session_id)
    assert len(open_share(store, link.id, signed_in=True, public_allowed=False).messages) == 81


def test_only_the_owner_shares_lists_and_revokes_and_a_revoked_link_is_not_found(store: HistoryStore):
    session_id = conversation(store)
    with pytest.raises(SessionNotFoundError):
        share(store, "bob", session_id)
    first = share(store, "alice", session_id)
    second = share(store, "alice", session_id)
    assert [link.id for link in store.list_shares("alice")] in ([second.id, first.id], [first.id, second.id])
    assert store.list_shares("bob") == []
    with pytest.raises(ShareNotFoundError):
        revoke_share(store, "bob", first.id, utc_now())
    assert open_share(store, first.id, signed_in=True, public_allowed=False)
    when = utc_now()
    assert revoke_share(store, "alice", first.id, when).revoked_at == when
    again = revoke_share(store, "alice", first.id, when + timedelta(minutes=1))
    assert again.revoked_at == when, "revoking twice keeps the first time"
    with pytest.raises(ShareNotFoundError):
        open_share(store, first.id, signed_in=True, public_allowed=False)
    assert open_share(store, second.id, signed_in=True, public_allowed=False), "other links stay"
    listed = {link.id: link.revoked_at for link in store.list_shares("alice")}
    assert listed == {first.id: when, second.id: None}


def test_unknown_and_malformed_ids_are_not_found(store: HistoryStore):
    for share_id in ("x" * 32, "", "../../etc", "a" * 65, "short"):
        with pytest.raises(ShareNotFoundError):
            open_share(store, share_id, signed_in=True, public_allowed=False)
        with pytest.raises(ShareNotFoundError):
            revoke_share(store, "alice", share_id, utc_now())


def test_public_links_exist_only_where_an_administrator_allowed_them(store: HistoryStore):
    session_id = conversation(store)
    with pytest.raises(PublicSharesOffError):
        share(store, "alice", session_id, public=True, allowed=False)
    private = share(store, "alice", session_id)
    with pytest.raises(ShareNotFoundError):
        open_share(store, private.id, signed_in=False, public_allowed=True)
    public = share(store, "alice", session_id, public=True, allowed=True)
    assert open_share(store, public.id, signed_in=False, public_allowed=True).public
    with pytest.raises(ShareNotFoundError):  # allowed once, turned off since: no longer public
        open_share(store, public.id, signed_in=False, public_allowed=False)


def test_an_arena_shared_before_its_vote_keeps_its_models_hidden(store: HistoryStore):
    lanes = [Lane(id="a", model="smollm2-135m"), Lane(id="b", model="gemma3-270m")]
    arena = Session(user_id="alice", kind="arena", lanes=lanes, title="Blind")
    store.create_session(arena)
    prompt = store.append_message("alice", arena.id, Message(role="user", content="Hi"))
    for lane in lanes:
        store.append_message(
            "alice",
            arena.id,
            Message(role="assistant", content="Hello", lane=lane.id, model=lane.model, reply_to=prompt.seq),
        )
    shown = open_share(store, share(store, "alice", arena.id).id, signed_in=True, public_allowed=False)
    assert [m.model for m in shown.messages if m.role == "assistant"] == ["Model A", "Model B"]
