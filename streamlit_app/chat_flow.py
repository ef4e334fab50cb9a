"""The chat page's state: the open conversation, and the turn being answered (keys `chat_*`)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from chatbot.api.requests import ChatRequest
from streamlit_app.api import ChatApi
from streamlit_app.live import LiveTurn
from streamlit_app.transcript import Shown
from streamlit_app.widgets import feedback, history

KEY_SESSION = "chat_session_id"
KEY_MESSAGES = "chat_messages"
KEY_LIVE = "chat_live"


def session_id() -> str | None:
    return st.session_state.get(KEY_SESSION)


def messages() -> list[Shown]:
    return st.session_state.setdefault(KEY_MESSAGES, [])


def live() -> LiveTurn | None:
    return st.session_state.get(KEY_LIVE)


def reset() -> None:
    """A new, empty conversation. A turn still streaming goes on in the background and is saved."""
    for key in (KEY_SESSION, KEY_MESSAGES, KEY_LIVE):
        st.session_state.pop(key, None)
    feedback.forget_given()


def load(api: ChatApi, opened: str) -> None:
    """Show a conversation from the history. Raises ApiError."""
    conversation = api.conversation(opened)
    reset()
    st.session_state[KEY_SESSION] = conversation.session.id
    st.session_state[KEY_MESSAGES] = [Shown.from_stored(message) for message in conversation.messages]
    feedback.load_given(api, conversation.session.id, st.session_state[KEY_MESSAGES])


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
) -> None:
    """Send the prompt; a worker reads the answer while the page draws it. `search_shared`
    adds the shared workspace's documents (other people's) to the search."""
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
    )
    turn = LiveTurn(prompt)
    messages().append(Shown(role="user", content=prompt))
    turn.start(lambda: api.chat(request), api.stop)
    st.session_state[KEY_LIVE] = turn


def absorb_finished() -> None:
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
    messages().append(Shown.from_answer(answer, reply_to=turn.round))
    history.invalidate()  # a new conversation, or one that moved to the top


def last_prompt() -> str | None:
    return next((m.content for m in reversed(messages()) if m.role == "user"), None)


def stop(turn: LiveTurn) -> None:
    """The Stop button: POST /sessions/{id}/stop; the answer then ends as "stopped" and is saved."""
    turn.request_stop()
