"""Choosing a preset in Chat and Compare (issue 21): the presets published to the user, listed
once per browser session (and again after the Models page changes them). Picking one sets the
model (Chat) and the parameter controls to the preset's values; the API adds its system prompt
and saves its name with a new conversation."""

from __future__ import annotations

import streamlit as st

from chatbot.api.model_access import Preset
from streamlit_app.api import ApiError, ChatApi
from streamlit_app.formatting import as_plain_text
from streamlit_app.models_client import ModelsApi

KEY_PRESETS = "presets_listing"
#: The picker's value and label for "no preset": neither can be a preset's name (a name starts
#: with a letter or a digit), so a preset of any name, "No preset" included, is never taken for
#: none, nor shown as it.
NONE = ""
NONE_LABEL = "(no preset)"
#: The parameter controls a preset sets (streamlit_app/widgets/model_settings.py's keys).
_CONTROLLED = ("temperature", "top_p", "max_new_tokens")


def forget_presets() -> None:
    """After presets change (the Models page), list them afresh."""
    st.session_state.pop(KEY_PRESETS, None)


def _presets(api: ChatApi) -> list[Preset]:
    if KEY_PRESETS not in st.session_state:
        try:
            st.session_state[KEY_PRESETS] = ModelsApi(api).presets()
        except ApiError as exc:
            st.caption(f"Presets are unavailable: {as_plain_text(str(exc))}")
            return []
    return st.session_state[KEY_PRESETS]


def _apply(presets: dict[str, Preset], key: str, prefix: str, model_key: str | None) -> None:
    preset = presets.get(st.session_state.get(key) or NONE)  # None for NONE: no preset has its name
    if preset is None:
        return
    if model_key is not None:
        st.session_state[model_key] = preset.model
    for name in _CONTROLLED:
        if name in preset.parameters:
            st.session_state[f"{prefix}_{name}"] = preset.parameters[name]


def preset_picker(api: ChatApi, *, key: str, prefix: str, model_key: str | None = None) -> Preset | None:
    """The chosen preset (None: none). `prefix`: the parameter controls' key prefix; `model_key`:
    the model picker's key, set to the preset's model when one is picked (None: Compare)."""
    presets = {preset.name: preset for preset in _presets(api)}
    if not presets:
        return None
    if st.session_state.get(key) not in (NONE, *presets):  # withdrawn since the last visit
        st.session_state[key] = NONE
    chosen = st.selectbox(
        "Preset",
        [NONE, *presets],
        format_func=lambda name: name or NONE_LABEL,
        key=key,
        on_change=_apply,
        args=(presets, key, prefix, model_key),
        help="A model, a system prompt and parameters an administrator prepared for you.",
    )
    preset = presets.get(chosen)
    if preset is not None and preset.description:
        st.caption(as_plain_text(preset.description))
    return preset
