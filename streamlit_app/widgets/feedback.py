"""👍 / 👎 on a chat answer, with an optional comment: sent once, then shown as given.

The thumbs already given in the open conversation are kept in session state (`chat_feedback`:
{the seq of the prompt answered: rating}), read when a conversation is opened: a chat answer is
known by its prompt on the page, where an answer just written has no seq of its own yet (it is
looked up when the feedback is sent)."""

from __future__ import annotations

import streamlit as st

from chatbot.api.everyday import MAX_COMMENT_CHARS, Rating
from streamlit_app import everyday_api
from streamlit_app.api import ApiError, ChatApi
from streamlit_app.formatting import as_plain_text
from streamlit_app.transcript import Shown

KEY_GIVEN = "chat_feedback"
#: Material icons, not emoji: a browser without an emoji font draws those as empty boxes.
THUMBS: dict[Rating, str] = {"up": ":material/thumb_up: Good", "down": ":material/thumb_down: Bad"}


def given() -> dict[int | None, Rating]:
    """{the seq of the prompt answered (None where it could not be told): rating}"""
    return st.session_state.setdefault(KEY_GIVEN, {})


def load_given(api: ChatApi, session_id: str, messages: list[Shown]) -> None:
    """The thumbs already given in a conversation just opened (none shown if they cannot be read)."""
    prompt_of = {m.seq: m.reply_to for m in messages if m.role == "assistant"}
    try:
        thumbs = everyday_api.session_feedback(api, session_id)
    except ApiError:
        thumbs = []
    st.session_state[KEY_GIVEN] = {prompt_of.get(f.seq): f.rating for f in thumbs}


def forget_given() -> None:
    st.session_state.pop(KEY_GIVEN, None)


def _seq_of(api: ChatApi, session_id: str, message: Shown) -> int | None:
    if message.seq is not None:
        return message.seq
    conversation = api.conversation(session_id)
    return next(
        (m.seq for m in conversation.messages if m.role == "assistant" and m.reply_to == message.reply_to),
        None,
    )


def feedback_bar(api: ChatApi, session_id: str | None, message: Shown, key: str) -> None:
    """Under an answer: the thumb given, or a popover to give one."""
    if session_id is None or message.status == "error":
        return
    if message.reply_to in given():
        st.caption(f"Your feedback: {THUMBS[given()[message.reply_to]]}")
        return
    with st.popover("Feedback", icon=":material/thumbs_up_down:", key=f"{key}_popover"):
        rating = st.segmented_control(
            "How was this answer?", options=list(THUMBS), format_func=THUMBS.__getitem__, key=f"{key}_rating"
        )
        comment = st.text_area(
            "Comment (optional)", max_chars=MAX_COMMENT_CHARS, key=f"{key}_comment", height=80
        )
        sent_now = st.button(
            "Send feedback", key=f"{key}_send", disabled=rating is None, icon=":material/send:"
        )
        if sent_now and rating is not None:  # the button is disabled until a rating is chosen
            try:
                seq = _seq_of(api, session_id, message)
                if seq is None:
                    raise ApiError("This answer is not saved yet. Try again in a moment.")
                sent = everyday_api.give_feedback(api, session_id, seq, rating, comment.strip())
            except ApiError as exc:
                st.error(f"Not sent: {as_plain_text(str(exc))}")
                return
            given()[message.reply_to] = sent.rating
            st.rerun()
