"""The web app as an ASGI app (`streamlit run streamlit_app/asgi.py`, which streamlit_app.serve
runs): Streamlit's own routes, plus the one that sets the "remember me" cookie (cookies.py) and
Cognito's log out and refresh token around Streamlit's own sign-in routes (oidc.py)."""

import sys
from pathlib import Path

# As in streamlit_app.py: `streamlit run` puts this folder first on sys.path, where the name
# `streamlit_app` would mean the entry-point file instead of the package around it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import streamlit as st  # noqa: E402

from streamlit_app import cookies, oidc  # noqa: E402

app = st.App(_HERE / "streamlit_app.py", routes=[*cookies.routes(), *oidc.routes()])
