"""Settings: the API keys that let OpenAI-compatible tools use this chatbot's models."""

import streamlit as st

from streamlit_app import context
from streamlit_app.api import ApiError
from streamlit_app.quotas_client import QuotasApi
from streamlit_app.widgets.shares import links_section

api = context.api()
base_url = context.settings().openai_base_url
st.header("Settings")

st.subheader("API keys")
st.caption(
    "A key lets a tool that speaks the OpenAI API (the `openai` package, Open WebUI, LangChain…) "
    "chat with these models as you. Calls made with a key are not saved in your history unless "
    'the request sets `"store": true`, and each key counts its calls and tokens.'
)
st.code(
    f'from openai import OpenAI\n\nclient = OpenAI(base_url="{base_url}", api_key="sk-chatbot-…")\n'
    'client.chat.completions.create(model="…", messages=[{"role": "user", "content": "Hi"}])',
    language="python",
)

with st.form("set_new_key", clear_on_submit=True):
    name = st.text_input("Name of the new key", placeholder="e.g. laptop, Open WebUI", key="set_key_name")
    create = st.form_submit_button("Create key", icon=":material/key:")
if create:
    try:
        created = api.create_api_key(name.strip())
    except ApiError as exc:
        st.error(f"The key was not created: {exc}")
    else:
        st.success(f"Key **{created.info.name}** created. Copy it now: it is shown only this once.")
        st.code(created.key, language=None)

try:
    keys = api.api_keys()
except ApiError as exc:
    st.error(f"Your keys cannot be listed right now: {exc}")
    keys = []
if not keys:
    st.info("You have no API keys yet.")
try:  # each key's usage this month, as the quota ledger counted it (cost included)
    month = {usage.key_id: usage for usage in QuotasApi(api).key_usage("month")}
except ApiError:
    month = {}
for key in keys:
    label, figures, action = st.columns([3, 5, 1], vertical_alignment="center")
    label.markdown(f"**{key.name}** `{key.prefix}…`" + ("" if key.active else " · revoked"))
    used = key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else "never"
    figures.caption(
        f"created {key.created_at:%Y-%m-%d} · last used {used} · {key.requests} calls · "
        f"{key.prompt_tokens + key.completion_tokens} tokens"
        + (
            f" · this month: {used_now.prompt_tokens + used_now.completion_tokens} tokens, ${used_now.cost_usd:.4f}"
            if (used_now := month.get(key.id))
            else ""
        )
    )
    if key.active and action.button("Revoke", key=f"set_revoke_{key.id}", icon=":material/block:"):
        try:
            api.revoke_api_key(key.id)
        except ApiError as exc:
            st.error(f"{key.name} was not revoked: {exc}")
        else:
            st.rerun()

links_section(api)  # the conversations this user shared by link (issue 23)
