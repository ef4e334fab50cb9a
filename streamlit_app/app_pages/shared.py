"""Shared: a conversation someone shared by link (`/shared?id=…`), read-only, as it was when the
link was made. Every word on it is someone else's text: shown as text, never as markup."""

import streamlit as st

from streamlit_app import context, everyday_api
from streamlit_app.api import ApiError
from streamlit_app.formatting import answer_markdown, as_plain_text

st.header("Shared conversation")
share_id = st.query_params.get("id") or st.text_input(
    "Link or id of a shared conversation", key="app_shared_id", placeholder="…/shared?id=…"
)
share_id = share_id.rsplit("id=", 1)[-1].strip()
if not share_id:
    st.caption("Open a link someone shared with you, or paste it here.")
    st.stop()

try:
    shared = everyday_api.open_link(context.api(), share_id)
except ApiError as exc:
    st.error(as_plain_text(str(exc)))
    st.stop()

st.subheader(as_plain_text(shared.title))
st.caption(
    f"Shared by {as_plain_text(shared.shared_by)} on {shared.created_at:%Y-%m-%d %H:%M} UTC · read-only"
)
for message in shared.messages:
    with st.chat_message(message.role):
        if message.role == "assistant" and message.model:
            st.caption(as_plain_text(message.model) + (f" · lane {message.lane}" if message.lane else ""))
        st.markdown(answer_markdown(message.content) if message.content else "*(no text)*")
