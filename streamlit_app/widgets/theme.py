"""Where the light/dark switch is. The themes themselves are in .streamlit/config.toml."""

from __future__ import annotations

import streamlit as st


def theme_hint() -> None:
    with st.sidebar:
        st.caption("Light or dark theme: the ⋮ menu at the top right.")
