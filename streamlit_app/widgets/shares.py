"""Share links in the app (issue 23): make one for the open conversation (sidebar), list and
revoke one's links (Settings). A link opens the Shared page (`/shared?id=…`) for any signed-in
user of this deployment."""

from __future__ import annotations

from urllib.parse import urlsplit

import streamlit as st

from chatbot.api.everyday import ShareOut
from streamlit_app import everyday_api
from streamlit_app.api import ApiError, ChatApi
from streamlit_app.formatting import as_plain_text

#: The Shared page's address inside the app (its st.Page url_path).
SHARED_PAGE = "shared"


def link_url(share_id: str) -> str:
    """The app's own address for a link, from the address this browser opened the app at."""
    try:
        parts = urlsplit(st.context.url or "")
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    except (AttributeError, ValueError):
        origin = ""
    return f"{origin}/{SHARED_PAGE}?id={share_id}"


def share_popover(api: ChatApi, session_id: str) -> None:
    """Sidebar → This conversation → Share: a read-only link to the conversation as it is now."""
    with st.popover("Share", icon=":material/share:", key="hist_share_popover", width="stretch"):
        st.caption(
            "A read-only link to this conversation as it is now, for anyone signed in here. "
            "Later messages are not added to it. Revoke it on Settings."
        )
        if st.button("Make a link", key="hist_share_make", icon=":material/add_link:"):
            try:
                made = everyday_api.share(api, session_id)
            except ApiError as exc:
                st.error(f"No link was made: {as_plain_text(str(exc))}")
            else:
                st.session_state[f"hist_share_made_{session_id}"] = made.id
        if made_id := st.session_state.get(f"hist_share_made_{session_id}"):
            st.code(link_url(made_id), language=None)


def links_section(api: ChatApi) -> None:
    """Settings → Shared links: the user's links, newest first, each revocable."""
    st.subheader("Shared links")
    try:
        links = everyday_api.my_links(api)
    except ApiError as exc:
        st.error(f"Your links cannot be listed right now: {as_plain_text(str(exc))}")
        return
    if not links:
        st.info("You have shared no conversations. Share one from the sidebar's This conversation.")
    for link in links:
        _link_row(api, link)


def _link_row(api: ChatApi, link: ShareOut) -> None:
    label, where, action = st.columns([3, 5, 1], vertical_alignment="center")
    label.markdown(f"**{as_plain_text(link.title)}**" + (" · revoked" if link.revoked_at else ""))
    where.caption(f"shared {link.created_at:%Y-%m-%d %H:%M} · {as_plain_text(link_url(link.id))}")
    if link.revoked_at is None and action.button(
        "Revoke", key=f"set_revoke_share_{link.id}", icon=":material/link_off:"
    ):
        try:
            everyday_api.revoke_link(api, link.id)
        except ApiError as exc:
            st.error(f"Not revoked: {as_plain_text(str(exc))}")
        else:
            st.rerun()
