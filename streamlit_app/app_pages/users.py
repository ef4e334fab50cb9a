"""Users (administrators only): add people, reset a forgotten password, remove an account, and
with it, on an explicit choice confirmed by typing the name, delete that person's data.

Every change goes through the chat API's /users routes, which check the administrator role
in the signed-in user's token themselves: this page is hidden from everyone else, and the API
would refuse them anyway.
"""

import streamlit as st

from streamlit_app import context
from streamlit_app.api import ApiError
from streamlit_app.formatting import as_plain_text
from streamlit_app.limits_form import render_limits_form
from streamlit_app.quotas_client import QuotasApi

api = context.api()
st.header("Users")
st.caption("Everyone here can sign in to this app. Administrators manage the accounts.")

if notice := st.session_state.pop("users_notice", None):
    st.success(notice)

try:
    users = api.users()
except ApiError as exc:
    st.error(str(exc))
    st.stop()

for user in users:
    st.markdown(f"**{as_plain_text(user.name)}**" + (" · administrator" if user.admin else ""))

st.subheader("Add a user, or reset a password")
with st.form("users_save", clear_on_submit=True):
    name = st.text_input("User name", key="users_name")
    password = st.text_input("Password", type="password", key="users_password")
    admin = st.checkbox("Administrator", key="users_admin")
    save = st.form_submit_button("Save", type="primary", icon=":material/person_add:")
if save:
    try:
        saved = api.save_user(name, password, admin=admin)
    except ApiError as exc:
        st.error(str(exc))
    else:
        did = "Added" if saved.created else "Reset the password of"
        st.session_state["users_notice"] = f"{did} {as_plain_text(saved.user.name)}."
        st.rerun()

st.subheader("Remove a user")
me = context.identity().user_id
others = [user.name for user in users if user.name != me]
if not others:
    st.caption("There is no one else to remove.")
else:
    doomed = st.selectbox("User", others, key="users_remove_name")
    delete_data = st.checkbox(
        "Also delete their data",
        key="users_remove_data",
        help=(
            "Their conversations (with shares, feedback, pins and attached files), the documents "
            "they uploaded, their API keys and their usage details. Their arena votes stay, "
            "anonymised, so the leaderboard does not change."
        ),
    )
    confirmed = True
    if delete_data:
        st.warning(
            f"This deletes everything {as_plain_text(doomed)} kept here, for good: it cannot be undone."
        )
        typed = st.text_input(f"Type {as_plain_text(doomed)} to confirm", key="users_remove_confirm")
        confirmed = typed.strip().lower() == doomed
    if st.button("Remove", key="users_remove", icon=":material/person_remove:", disabled=not confirmed):
        try:
            removed = api.remove_user(doomed, delete_data=delete_data)
        except ApiError as exc:
            st.error(str(exc))
        else:
            deleted = f" and deleted their data: {removed.data.summary()}" if removed else ""
            st.session_state["users_notice"] = f"Removed {as_plain_text(doomed)}{deleted}."
            st.session_state.pop("users_remove_confirm", None)
            st.rerun()

st.subheader("Limits")
st.caption(
    "Per role (`user` is everyone, `admin` the administrators, or any group) or per user. "
    "Leave a field empty for no limit (for a user: to keep their roles' value); a user's values "
    "replace their roles'. Type `unlimited` to lift a role's limit for that user."
)
render_limits_form(QuotasApi(api), [user.name for user in users])
