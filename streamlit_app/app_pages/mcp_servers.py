"""MCP servers (administrators only): register a server's URL and optional credential, publish it
to roles, look at its tools, remove it.

Everything goes through the chat API's /mcp-servers routes, which check the administrator role
themselves. Names, URLs, descriptions and tool schemas come from outside: they are shown as plain
text, never as markup.
"""

import json

import streamlit as st

from chatbot.api.tools import McpServerRegistration
from streamlit_app import context
from streamlit_app.api import ApiError
from streamlit_app.formatting import as_plain_text
from streamlit_app.widgets.tool_picker import forget_listing

api = context.api()
st.header("MCP servers")
st.caption(
    "Tools that models may call in chats, from MCP servers over streamable HTTP. Only the URLs "
    "registered here are ever called."
)
st.warning(
    "A server's credential acts for everyone the server is published to: whatever its tools can "
    "do with that credential, every one of those users can ask a model to do.",
    icon=":material/key:",
)

if notice := st.session_state.pop("mcp_notice", None):
    st.success(notice)

try:
    servers = api.mcp_servers()
except ApiError as exc:
    st.error(str(exc))
    st.stop()

if not servers:
    st.caption("No server is registered yet.")
for server in servers:
    with st.expander(as_plain_text(server.name), icon=":material/dns:"):
        st.markdown(f"URL: {as_plain_text(server.url)}")
        st.markdown(f"Published to: {as_plain_text(', '.join(server.roles))}")
        credential = f"sent in {server.auth_header}" if server.has_secret and server.auth_header else "none"
        st.markdown(f"Credential: {as_plain_text(credential)}")
        if server.allow_private:
            st.markdown("Private addresses: **allowed** (an internal server)")
        if st.button("List its tools", key=f"mcp_tools_{server.name}", icon=":material/build:"):
            try:
                listing = api.mcp_server_tools(server.name)
            except ApiError as exc:
                st.error(str(exc))
            else:
                for reason in listing.unavailable.values():
                    st.error(as_plain_text(reason))
                for tool in listing.tools:
                    st.markdown(f"**{as_plain_text(tool.name)}**: {as_plain_text(tool.description)}")
                    st.code(json.dumps(tool.parameters, indent=2), language="json")
        if st.button("Remove", key=f"mcp_remove_{server.name}", icon=":material/delete:"):
            try:
                api.remove_mcp_server(server.name)
            except ApiError as exc:
                st.error(str(exc))
            else:
                st.session_state["mcp_notice"] = f"Removed {as_plain_text(server.name)}."
                forget_listing()
                st.rerun()

st.subheader("Register a server, or replace one")
with st.form("mcp_register", clear_on_submit=True):
    name = st.text_input("Name", key="mcp_name", help="Lower-case letters, digits and dashes.")
    url = st.text_input("URL", key="mcp_url", placeholder="https://tools.example.com/mcp")
    header = st.text_input("Auth header (optional)", key="mcp_header", placeholder="Authorization")
    secret = st.text_input(
        "Its value (stored as a secret, never shown again; leave empty to keep the stored one)",
        type="password",
        key="mcp_secret",
    )
    roles = st.text_input(
        "Published to roles (comma-separated; 'everyone' for every signed-in user)",
        value="admin",
        key="mcp_roles",
    )
    allow_private = st.checkbox("Allow private addresses (an internal server)", key="mcp_private")
    register = st.form_submit_button("Save", type="primary", icon=":material/add:")
if register:
    try:
        registration = McpServerRegistration(
            url=url.strip(),
            auth_header=header.strip() or None,
            secret=secret or None,
            allow_private=allow_private,
            roles=[role.strip() for role in roles.split(",") if role.strip()] or ["admin"],
        )
        saved = api.register_mcp_server(name.strip(), registration)
    except (ApiError, ValueError) as exc:
        st.error(str(exc))
    else:
        st.session_state["mcp_notice"] = f"Saved {as_plain_text(saved.name)}."
        forget_listing()
        st.rerun()
