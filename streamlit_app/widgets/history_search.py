"""The history sidebar's search, pins and folders (issue 23): a search box whose hits open a
conversation, the pinned conversations and folders above the newest, and Pin / folder for the
open conversation. Titles and snippets are anyone's text (imports): shown as plain text."""

from __future__ import annotations

import streamlit as st

from chatbot.api.everyday import MAX_FOLDER_CHARS, MAX_QUERY_CHARS, SessionMark
from streamlit_app import everyday_api
from streamlit_app.api import ApiError, ChatApi
from streamlit_app.formatting import as_plain_text

KEY_MARKS = "hist_marks"
KEY_OPEN = "hist_open"  # history.KEY_OPEN: the page that shows the session's kind opens it
KIND_ICONS = {"chat": ":material/chat:", "compare": ":material/view_column:", "arena": ":material/swords:"}


def forget_marks() -> None:
    st.session_state.pop(KEY_MARKS, None)


def _open(session_id: str, kind: str) -> None:
    from streamlit_app.widgets.history import OpenRequest

    st.session_state[KEY_OPEN] = OpenRequest(session_id, kind)


def search_box(api: ChatApi) -> None:
    query = st.text_input(
        "Search conversations",
        key="hist_search",
        max_chars=MAX_QUERY_CHARS,
        placeholder="Words in a title or message",
        icon=":material/search:",
    ).strip()
    if not query:
        return
    try:
        results = everyday_api.search(api, query)
    except ApiError as exc:
        st.error(f"Search failed: {as_plain_text(str(exc))}")
        return
    if not results.hits:
        st.caption("No conversation holds every one of those words.")
    for hit in results.hits:
        st.button(
            as_plain_text(hit.title),
            key=f"hist_hit_{hit.id}",
            icon=KIND_ICONS.get(hit.kind, ":material/chat:"),
            help=as_plain_text(hit.snippet) if hit.snippet else None,
            on_click=_open,
            args=(hit.id, hit.kind),
            type="tertiary",
            width="stretch",
        )
    if results.note:
        st.caption(as_plain_text(results.note))
    st.divider()


def _marks(api: ChatApi) -> list[SessionMark]:
    if KEY_MARKS not in st.session_state:
        try:
            st.session_state[KEY_MARKS] = everyday_api.marks(api)
        except ApiError:
            return []
    return st.session_state[KEY_MARKS]


def marked_sections(api: ChatApi, current_id: str | None) -> None:
    """Pinned conversations, then each folder (an expander), above the newest."""
    marks = _marks(api)
    pinned = [mark for mark in marks if mark.pinned]
    if pinned:
        st.caption("Pinned")
        for mark in pinned:
            _mark_button(mark, current_id, "pin")
    folders: dict[str, list[SessionMark]] = {}
    for mark in marks:
        if mark.folder and not mark.pinned:
            folders.setdefault(mark.folder, []).append(mark)
    for folder, filed in folders.items():
        with st.expander(as_plain_text(folder), icon=":material/folder:"):
            for mark in filed:
                _mark_button(mark, current_id, "folder")
    if pinned or folders:
        st.caption("Newest")


def _mark_button(mark: SessionMark, current_id: str | None, where: str) -> None:
    st.button(
        as_plain_text(mark.title),
        key=f"hist_{where}_{mark.session_id}",
        icon=":material/push_pin:" if mark.pinned else KIND_ICONS.get(mark.kind, ":material/chat:"),
        type="primary" if mark.session_id == current_id else "tertiary",
        on_click=_open,
        args=(mark.session_id, mark.kind),
        width="stretch",
    )


def mark_actions(api: ChatApi, session_id: str) -> None:
    """This conversation → Pin or unpin, and a folder."""
    current = next((m for m in _marks(api) if m.session_id == session_id), None)
    pinned, folder = (current.pinned, current.folder) if current else (False, None)
    if st.button(
        "Unpin" if pinned else "Pin",
        key="hist_pin",
        icon=":material/push_pin:",
        width="stretch",
    ):
        _save(api, session_id, pinned=not pinned, folder=folder)
    with st.popover("Folder", icon=":material/folder:", key="hist_folder_popover", width="stretch"):
        name = st.text_input(
            "Folder name (empty: no folder)",
            value=folder or "",
            max_chars=MAX_FOLDER_CHARS,
            key=f"hist_folder_{session_id}",
        )
        if st.button("Move", key="hist_folder_save", icon=":material/drive_file_move:"):
            _save(api, session_id, pinned=pinned, folder=name.strip() or None)


def _save(api: ChatApi, session_id: str, *, pinned: bool, folder: str | None) -> None:
    try:
        everyday_api.mark(api, session_id, pinned=pinned, folder=folder)
    except ApiError as exc:
        st.error(f"Not saved: {as_plain_text(str(exc))}")
        return
    forget_marks()
    st.rerun()
