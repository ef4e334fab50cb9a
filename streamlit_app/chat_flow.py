"""The chat page's state: the open conversation, and the turn being answered (keys `chat_*`)."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import replace
from typing import Any

import streamlit as st

from chatbot.api import branches
from chatbot.api.attachments import AttachmentRef
from chatbot.api.records import Message
from chatbot.api.requests import ChatRequest
from streamlit_app.api import ApiError, ChatApi
from streamlit_app.live import LiveTurn
from streamlit_app.transcript import Shown
from streamlit_app.widgets import feedback, history

KEY_SESSION = "chat_session_id"
KEY_MESSAGES = "chat_messages"
KEY_LIVE = "chat_live"
#: Every stored message of the open chat, every branch (the page shows one path through it).
KEY_TREE = "chat_tree"
#: The preset the open chat was started with (issue 21), for the preset picker.
KEY_OPENED_PRESET = "chat_opened_preset"


def session_id() -> str | None:
    return st.session_state.get(KEY_SESSION)


def messages() -> list[Shown]:
    return st.session_state.setdefault(KEY_MESSAGES, [])


def live() -> LiveTurn | None:
    return st.session_state.get(KEY_LIVE)


def reset() -> None:
    """A new, empty conversation. A turn still streaming goes on in the background and is saved."""
    for key in (KEY_SESSION, KEY_MESSAGES, KEY_LIVE, KEY_TREE, KEY_OPENED_PRESET):
        st.session_state.pop(key, None)
    feedback.forget_given()


def tree() -> list[Message]:
    return st.session_state.get(KEY_TREE, [])


def load(api: ChatApi, opened: str, *, through: int | None = None) -> None:
    """Show a conversation from the history: its newest branch, or the newest one through the
    message `through` (‹ 1/2 ›). Raises ApiError."""
    conversation = api.conversation(opened)
    reset()
    stored = conversation.messages
    leaf = branches.leaf_under(stored, through) if through else branches.newest_leaf(stored)
    st.session_state[KEY_SESSION] = conversation.session.id
    st.session_state[KEY_TREE] = stored
    st.session_state[KEY_MESSAGES] = [Shown.from_stored(m) for m in branches.path_to(stored, leaf)]
    feedback.load_given(api, conversation.session.id, st.session_state[KEY_MESSAGES])
    st.session_state[KEY_OPENED_PRESET] = conversation.session.preset


def opened_preset() -> str | None:
    """The preset the conversation shown last was started with (None: none)."""
    return st.session_state.get(KEY_OPENED_PRESET)


def start_turn(
    api: ChatApi,
    prompt: str,
    model: str,
    parameters: dict[str, Any],
    streaming: bool,
    use_documents: bool = False,
    search_shared: bool = False,
    tools: list[str] | None = None,
    tool_choice: str = "auto",
    edit_of: int | None = None,
    attachments: list[AttachmentRef] | None = None,
    preset: str | None = None,
) -> None:
    """Send the prompt; a worker reads the answer while the page draws it. `search_shared`
    adds the shared workspace's documents (other people's) to the search. `edit_of`: the seq
    of a question shown, which this one replaces in a new branch (the first one stays)."""
    shown = messages()
    if edit_of is not None:  # the page goes on from where the edited question was
        cut = next((i for i, m in enumerate(shown) if m.seq == edit_of), len(shown))
        del shown[cut:]
    # The branch the page shows (its last message, when known); else the newest.
    parent = shown[-1].seq if edit_of is None and shown and session_id() else None
    request = ChatRequest(
        session_id=session_id(),
        model=model,
        message=prompt,
        parameters=parameters,
        streaming=streaming,
        use_documents=use_documents,
        search_shared=search_shared,
        tools=tools or [],
        tool_choice=tool_choice,
        edit_of=edit_of if session_id() else None,
        parent=parent,
        attachments=[ref.id for ref in attachments or []],
        preset=preset,
    )
    turn = LiveTurn(prompt)
    messages().append(Shown(role="user", content=prompt, attachments=list(attachments or [])))
    turn.start(lambda: api.chat(request), api.stop)
    st.session_state[KEY_LIVE] = turn


def absorb_finished(api: ChatApi | None = None) -> None:
    """Once the turn has ended, its answer joins the conversation (called at the top of each run)."""
    turn = live()
    if turn is None or not turn.finished:
        return
    st.session_state.pop(KEY_LIVE)
    if turn.failure is not None:
        # A scale-to-zero model with no copy running: nothing was saved, and a retry works once it is up.
        status = "warming_up" if turn.failure_code == "model_warming_up" else "error"
        messages().append(Shown(role="assistant", content="", status=status, error=turn.failure))
        return
    answer = turn.snapshot()[None]
    if turn.session_id is not None:
        st.session_state[KEY_SESSION] = turn.session_id
    shown = messages()
    if shown and shown[-1].role == "user" and shown[-1].seq is None and turn.round is not None:
        shown[-1] = replace(shown[-1], seq=turn.round)  # so it can be edited at once
    shown.append(Shown.from_answer(answer, reply_to=turn.round))
    history.invalidate()  # a new conversation, or one that moved to the top
    if api is not None and turn.session_id is not None:
        with suppress(ApiError):  # the branches, for ‹ 1/2 › (the page keeps showing what it has)
            st.session_state[KEY_TREE] = api.conversation(turn.session_id).messages


def last_prompt() -> str | None:
    return next((m.content for m in reversed(messages()) if m.role == "user"), None)


def stop(turn: LiveTurn) -> None:
    """The Stop button: POST /sessions/{id}/stop; the answer then ends as "stopped" and is saved."""
    turn.request_stop()
