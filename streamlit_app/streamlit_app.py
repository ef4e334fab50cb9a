"""The web app's entry point: `streamlit run streamlit_app/streamlit_app.py` (from the project root).

Signs the user in, then hands over to the page picked in the navigation (app_pages/).
"""

import sys
from pathlib import Path

# `streamlit run` puts this file's folder first on sys.path, where the name `streamlit_app`
# would mean this very file instead of the package around it: put the project root first.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import streamlit as st  # noqa: E402

from streamlit_app import context  # noqa: E402
from streamlit_app.formatting import as_plain_text  # noqa: E402
from streamlit_app.identity import KEY_LOG_OUT, forget_the_last_user, login_for  # noqa: E402
from streamlit_app.widgets.theme import theme_hint  # noqa: E402

st.set_page_config(page_title="Multi-LLM chatbot", page_icon="💬", layout="wide")

login = login_for(context.settings())
user = login.signed_in()
if user is None:
    if context.KEY_IDENTITY in st.session_state:  # signed out some other way than Log out
        forget_the_last_user()
    theme_hint()
    st.stop()
st.session_state[context.KEY_IDENTITY] = user

pages = [
    st.Page("app_pages/chat.py", title="Chat", icon=":material/chat:", default=True),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/view_column:"),
    st.Page("app_pages/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
    st.Page("app_pages/documents.py", title="Documents", icon=":material/description:"),
    st.Page("app_pages/usage.py", title="Usage", icon=":material/monitoring:"),
    st.Page("app_pages/settings.py", title="Settings", icon=":material/settings:"),
    st.Page("app_pages/shared.py", title="Shared", icon=":material/share:", url_path="shared"),
]
if user.is_admin and context.settings().login == "local":  # with Cognito, its user pool holds the accounts
    pages.append(st.Page("app_pages/users.py", title="Users", icon=":material/group:"))
if user.is_admin:
    pages.append(st.Page("app_pages/mcp_servers.py", title="MCP servers", icon=":material/build:"))
    pages.append(st.Page("app_pages/models.py", title="Models", icon=":material/model_training:"))
page = st.navigation(pages)

with st.sidebar:
    st.caption(f"Signed in as **{as_plain_text(user.display_name)}**")  # Cognito: any name
    signing_out = st.button("Log out", key=KEY_LOG_OUT, icon=":material/logout:")
if signing_out:
    login.sign_out()
    forget_the_last_user()
    # No rerun: the sign-in page is drawn in this run, together with the component that
    # deletes the "remember me" cookie (a rerun would drop it before it reached the browser).
    st.success("You are signed out.")
    login.signed_in()
    st.stop()
theme_hint()

page.run()
