"""Under a question of the chat: Edit (a new branch from there; the first stays) and, where the
question has siblings, ‹ i/n › to move between the branches (issue 23)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from chatbot.api import branches
from chatbot.api.records import Message
from streamlit_app.api import ApiError, ChatApi
from streamlit_app.formatting import as_plain_text
from streamlit_app.transcript import Shown


def branch_controls(
    api: ChatApi,
    session_id: str | None,
    tree: list[Message],
    message: Shown,
    key: str,
    *,
    show_branch: Callable[[ChatApi, str, int], None],
    send_edit: Callable[[str, int], None],
    disabled: bool,
) -> None:
    if session_id is None or message.seq is None or message.role != "user":
        return
    stored = next((m for m in tree if m.seq == message.seq), None)
    with st.container(horizontal=True, vertical_alignment="center", key=f"{key}_row"):
        if stored is not None:
            sibs = branches.siblings(tree, stored)
            if len(sibs) > 1:
                at = [m.seq for m in sibs].index(stored.seq)
                st.button(
                    "‹",
                    key=f"{key}_prev",
                    disabled=disabled or at == 0,
                    help="The previous version of this question",
                    on_click=_move,
                    args=(api, session_id, sibs[at - 1].seq if at else stored.seq, show_branch),
                )
                st.caption(f"{at + 1}/{len(sibs)}")
                st.button(
                    "›",
                    key=f"{key}_next",
                    disabled=disabled or at == len(sibs) - 1,
                    help="The next version of this question",
                    on_click=_move,
                    args=(api, session_id, sibs[min(at + 1, len(sibs) - 1)].seq, show_branch),
                )
        with st.popover("Edit", icon=":material/edit:", key=f"{key}_edit", disabled=disabled):
            text = st.text_area("Edited question", value=message.content, key=f"{key}_text")
            if (
                st.button("Send as a new branch", key=f"{key}_send", icon=":material/call_split:")
                and text.strip()
            ):
                send_edit(text.strip(), message.seq)
                st.rerun()


def _move(api: ChatApi, session_id: str, seq: int, show_branch: Callable[[ChatApi, str, int], None]) -> None:
    try:
        show_branch(api, session_id, seq)
    except ApiError as exc:
        st.session_state["chat_branch_error"] = as_plain_text(str(exc))
