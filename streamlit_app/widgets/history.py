"""The history sidebar: sessions newest first; open, rename, export, delete one; export all,
import, delete all (confirmed).

The list is kept in session state and read again only when something changed it, so a click
elsewhere on the page does not cost a round trip to the chat API.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import streamlit as st

from chatbot.api.records import Session
from streamlit_app.api import ApiError, ChatApi
from streamlit_app.formatting import as_plain_text
from streamlit_app.widgets.history_search import forget_marks, mark_actions, marked_sections, search_box
from streamlit_app.widgets.shares import share_popover

KEY_SESSIONS = "hist_sessions"
KEY_CURSOR = "hist_cursor"
KEY_CONFIRM_DELETE_ALL = "hist_confirm_delete_all"
KEY_OPEN = "hist_open"
KEY_NOTICE = "hist_notice"
PAGE_SIZE = 20
KIND_ICONS = {"chat": ":material/chat:", "compare": ":material/view_column:", "arena": ":material/swords:"}


@dataclass(frozen=True)
class OpenRequest:
    """A session the user picked; the page that shows its kind loads it."""

    session_id: str
    kind: str


def invalidate() -> None:
    """Read the list again on the next run (a new session, a new title, a deletion)."""
    st.session_state.pop(KEY_SESSIONS, None)
    st.session_state.pop(KEY_CURSOR, None)
    forget_marks()


def take_open_request() -> OpenRequest | None:
    return st.session_state.pop(KEY_OPEN, None)


def history_sidebar(api: ChatApi, *, current_id: str | None, on_deleted_current) -> None:
    """Draw the history in the sidebar. `on_deleted_current()` resets the page whose session went."""
    with st.sidebar:
        st.subheader("History")
        if notice := st.session_state.pop(KEY_NOTICE, None):
            st.toast(notice)
        try:
            sessions = _sessions(api)
        except ApiError as exc:
            st.error(f"The history cannot be shown: {exc}")
            return
        if not sessions:
            st.caption("Your conversations will appear here.")
            return
        search_box(api)
        marked_sections(api, current_id)
        for session in sessions:
            st.button(
                as_plain_text(session.title),  # imported titles are anyone's text
                key=f"hist_open_{session.id}",
                icon=KIND_ICONS.get(session.kind, ":material/chat:"),
                type="primary" if session.id == current_id else "tertiary",
                on_click=_request_open,
                args=(session,),
                width="stretch",
            )
        if st.session_state.get(KEY_CURSOR):
            st.button("Older conversations", key="hist_more", on_click=_load_more, args=(api,))
        current = next((s for s in sessions if s.id == current_id), None)
        if current is not None:
            _current_actions(api, current, on_deleted_current)
        _take_away(api)
        _delete_all(api, on_deleted_current)


def _sessions(api: ChatApi) -> list[Session]:
    if KEY_SESSIONS not in st.session_state:
        page = api.sessions(limit=PAGE_SIZE)
        st.session_state[KEY_SESSIONS], st.session_state[KEY_CURSOR] = page.sessions, page.cursor
    return st.session_state[KEY_SESSIONS]


def _load_more(api: ChatApi) -> None:
    try:
        page = api.sessions(limit=PAGE_SIZE, cursor=st.session_state.get(KEY_CURSOR))
    except ApiError as exc:
        st.session_state[KEY_NOTICE] = f"Could not load older conversations: {exc}"
        return
    st.session_state[KEY_SESSIONS] = [*st.session_state.get(KEY_SESSIONS, []), *page.sessions]
    st.session_state[KEY_CURSOR] = page.cursor


def _request_open(session: Session) -> None:
    st.session_state[KEY_OPEN] = OpenRequest(session.id, session.kind)


def _current_actions(api: ChatApi, session: Session, on_deleted_current) -> None:
    st.caption("This conversation")
    # One button a row: three columns in a sidebar 300 px wide cut each label to one letter.
    rename, export, share, delete = st.container(), st.container(), st.container(), st.container()
    with export.popover("Export", icon=":material/download:", key="hist_export_popover", width="stretch"):
        _downloads(api, session.id, key="hist_export")
    with rename.popover("Rename", icon=":material/edit:", key="hist_rename_popover", width="stretch"):
        title = st.text_input("New title", value=session.title, max_chars=200, key=f"hist_title_{session.id}")
        if st.button("Save title", key="hist_rename_save"):
            try:
                api.rename(session.id, title.strip() or session.title)
            except ApiError as exc:
                st.error(f"Not renamed: {exc}")
            else:
                invalidate()
                st.rerun()
    with share:
        share_popover(api, session.id)
        mark_actions(api, session.id)
    if delete.button("Delete", key="hist_delete", icon=":material/delete:", width="stretch"):
        try:
            api.delete(session.id)
        except ApiError as exc:
            st.error(f"Not deleted: {exc}")
        else:
            invalidate()
            on_deleted_current()
            st.session_state[KEY_NOTICE] = "Conversation deleted."
            st.rerun()


#: (label, export format, media type, file suffix)
DOWNLOADS: tuple[tuple[str, Literal["json", "markdown"], str, str], ...] = (
    ("JSON", "json", "application/json", "json"),
    ("Markdown", "markdown", "text/markdown", "md"),
)


def _downloads(api: ChatApi, session_id: str | None, key: str) -> None:
    """JSON (to import again) and Markdown (to read) downloads, fetched when clicked."""
    name = f"conversation-{session_id}" if session_id else "conversations"
    for label, fmt, mime, suffix in DOWNLOADS:
        st.download_button(
            label,
            data=functools.partial(api.export, session_id, format=fmt),
            file_name=f"{name}.{suffix}",
            mime=mime,
            key=f"{key}_{fmt}",
            icon=":material/download:",
            on_click="ignore",
            width="stretch",
        )


def _take_away(api: ChatApi) -> None:
    """Export every conversation, or import a JSON export (conversations already here are skipped)."""
    with st.popover(
        "Export or import all", icon=":material/import_export:", key="hist_transfer", width="stretch"
    ):
        st.caption("Every conversation as one file.")
        _downloads(api, None, key="hist_export_all")
        st.divider()
        upload = st.file_uploader("Import a JSON export", type=["json"], key="hist_import_file")
        if upload is not None and st.button("Import", key="hist_import", icon=":material/upload:"):
            try:
                outcome = api.import_conversations(upload.getvalue())
            except ApiError as exc:
                st.error(f"Nothing was imported: {exc}")
                return
            invalidate()
            st.session_state[KEY_NOTICE] = (
                f"Imported {outcome.imported} conversation{'s' if outcome.imported != 1 else ''}"
                + (f"; {outcome.skipped} already here." if outcome.skipped else ".")
            )
            st.rerun()


def _delete_all(api: ChatApi, on_deleted_current) -> None:
    st.divider()
    if not st.session_state.get(KEY_CONFIRM_DELETE_ALL):
        if st.button("Delete all conversations", key="hist_delete_all", icon=":material/delete_sweep:"):
            st.session_state[KEY_CONFIRM_DELETE_ALL] = True
            st.rerun()
        return
    st.warning("Delete every conversation, for good?")
    yes, no = st.columns(2)
    if yes.button("Yes, delete all", key="hist_delete_all_yes", type="primary"):
        st.session_state[KEY_CONFIRM_DELETE_ALL] = False
        try:
            deleted = api.delete_all()
        except ApiError as exc:
            st.error(f"Nothing was deleted: {exc}")
            return
        invalidate()
        on_deleted_current()
        st.session_state[KEY_NOTICE] = f"Deleted {deleted} conversation{'s' if deleted != 1 else ''}."
        st.rerun()
    if no.button("Cancel", key="hist_delete_all_no"):
        st.session_state[KEY_CONFIRM_DELETE_ALL] = False
        st.rerun()
