"""Models and presets (administrators only; issue 21): switch the deployed models on and off,
publish them to roles, pick the default; write presets (a model, a system prompt, parameters)
and publish them to roles. Changes reach every user within 30 s, without a redeploy.

Everything goes through the chat API's /admin/models and /admin/presets routes, which check the
administrator role themselves and record each change in the audit log. Role names and preset
texts are shown as plain text, never as markup.
"""

import json

import streamlit as st

from chatbot.api.model_access import ModelSettings, PresetSettings
from streamlit_app import context
from streamlit_app.api import ApiError
from streamlit_app.formatting import as_plain_text
from streamlit_app.models_client import ModelsApi
from streamlit_app.widgets.preset_picker import forget_presets

api = ModelsApi(context.api())
st.header("Models and presets")
st.caption(
    "The deployment's model catalog says which models exist; here you choose who may use them. "
    "Changes reach everyone within 30 seconds."
)

if notice := st.session_state.pop("models_notice", None):
    st.success(notice)


def roles_from(text: str) -> list[str]:
    return [role.strip() for role in text.split(",") if role.strip()]


def saved(message: str) -> None:
    st.session_state["models_notice"] = message
    st.session_state.pop(context.KEY_MODELS, None)  # this page's own lists, read afresh
    forget_presets()
    st.rerun()


try:
    models = api.models()
    presets = api.all_presets()
except ApiError as exc:
    st.error(str(exc))
    st.stop()

st.subheader("Models")
for entry in models:
    with st.container(border=True, key=f"models_row_{entry.name}"):
        label, enabled, audience, default, save = st.columns([3, 2, 3, 2, 2], vertical_alignment="bottom")
        label.markdown(f"**{as_plain_text(entry.name)}**  \n{as_plain_text(entry.model_id)}")
        on = enabled.toggle("Enabled", value=entry.enabled, key=f"models_enabled_{entry.name}")
        who = audience.text_input(
            "Roles (comma-separated; empty: everyone)",
            value=", ".join(entry.roles),
            key=f"models_roles_{entry.name}",
        )
        first = default.checkbox("Default", value=entry.default, key=f"models_default_{entry.name}")
        if save.button("Save", key=f"models_save_{entry.name}", icon=":material/save:"):
            try:
                api.set_model(entry.name, ModelSettings(enabled=on, roles=roles_from(who), default=first))
            except (ApiError, ValueError) as exc:
                st.error(str(exc))
            else:
                saved(f"Saved {as_plain_text(entry.name)}.")

st.subheader("Presets")
if not presets:
    st.caption("No preset yet.")
for preset in presets:
    with st.expander(as_plain_text(preset.name), icon=":material/bookmark:"):
        st.markdown(f"Model: {as_plain_text(preset.model)}")
        st.markdown(f"Published to: {as_plain_text(', '.join(preset.roles) or 'everyone')}")
        if preset.system_prompt:
            st.text(preset.system_prompt)
        if preset.parameters:
            st.code(json.dumps(preset.parameters, indent=2), language="json")
        if st.button("Delete", key=f"presets_delete_{preset.name}", icon=":material/delete:"):
            try:
                api.delete_preset(preset.name)
            except ApiError as exc:
                st.error(str(exc))
            else:
                saved(f"Deleted {as_plain_text(preset.name)}.")

st.subheader("Write a preset, or replace one")
with st.form("presets_form", clear_on_submit=True):
    name = st.text_input("Name", key="presets_name", help="Letters, digits, spaces, '.', '_', '-'.")
    model = st.selectbox("Model", [entry.name for entry in models], key="presets_model")
    system_prompt = st.text_area("System prompt", key="presets_system")
    parameters = st.text_area(
        "Parameters (JSON)", value="{}", key="presets_parameters", help='For example {"temperature": 0.3}'
    )
    roles = st.text_input("Published to roles (comma-separated; empty: everyone)", key="presets_roles")
    description = st.text_input("Description (shown to users)", key="presets_description")
    write = st.form_submit_button("Save preset", type="primary", icon=":material/add:")
if write:
    try:
        body = PresetSettings(
            model=model or "",
            system_prompt=system_prompt,
            parameters=json.loads(parameters or "{}"),
            roles=roles_from(roles),
            description=description,
        )
        written = api.set_preset(name.strip(), body)
    except (ApiError, ValueError) as exc:
        st.error(str(exc))
    else:
        saved(f"Saved the preset {as_plain_text(written.name)}.")
