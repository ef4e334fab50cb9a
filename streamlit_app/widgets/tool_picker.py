"""Choosing the tools a chat may call: the tools of the MCP servers published to the user, listed
once per browser session (listing asks every server) and again on Refresh."""

from __future__ import annotations

import streamlit as st

from chatbot.api.tools import ToolsListing
from streamlit_app.api import ApiError, ChatApi
from streamlit_app.formatting import as_plain_text

KEY_LISTING = "tools_listing"


def _listing(api: ChatApi) -> ToolsListing | None:
    if KEY_LISTING not in st.session_state:
        try:
            st.session_state[KEY_LISTING] = api.tools()
        except ApiError as exc:
            st.session_state[KEY_LISTING] = None  # no tools here now: the picker hides
            st.caption(f"Tools are unavailable: {as_plain_text(str(exc))}")
    listing = st.session_state[KEY_LISTING]
    if listing is not None and not listing.tools and not listing.unavailable:
        del st.session_state[KEY_LISTING]  # nothing published yet: ask again next time (cheap)
    return listing


def forget_listing() -> None:
    """After servers change (the MCP servers page), list the tools afresh."""
    st.session_state.pop(KEY_LISTING, None)


def tool_picker(api: ChatApi, *, key: str) -> tuple[list[str], str]:
    """The chosen "server/tool" names and the tool choice ("auto", "required" or one tool)."""
    listing = _listing(api)
    if listing is None or (not listing.tools and not listing.unavailable):
        return [], "auto"
    with st.popover("Tools", icon=":material/build:", width="stretch"):
        names = {f"{tool.server}/{tool.name}": tool for tool in listing.tools}
        chosen = st.multiselect(
            "Tools the model may call",
            list(names),
            key=f"{key}_tools",
            help="Their results go back to the model as untrusted data; each step is shown collapsed.",
        )
        for name in chosen:
            st.caption(f"{as_plain_text(name)}: {as_plain_text(names[name].description)}")
        choice = st.selectbox(
            "Calling",
            ["auto", "required", *chosen],
            key=f"{key}_tool_choice",
            format_func=lambda value: {"auto": "The model decides", "required": "Must call one first"}.get(
                value, f"Must call {value} first"
            ),
            disabled=not chosen,
        )
        for server, reason in listing.unavailable.items():
            st.caption(f"Unavailable now: {as_plain_text(server)}: {as_plain_text(reason)}")
        if st.button("Refresh", key=f"{key}_tools_refresh", icon=":material/refresh:"):
            st.session_state.pop(KEY_LISTING, None)
            st.rerun()
    return chosen, choice if chosen else "auto"
