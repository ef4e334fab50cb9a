"""What every page needs: the signed-in user's chat API client and the model list.

The HTTP connection pool is shared by all sessions (`st.cache_resource`, one per API URL);
the identity lives in this session's state, set by streamlit_app.py before any page runs.
"""

from __future__ import annotations

import time

import httpx
import streamlit as st

from chatbot.api.catalog import ModelInfo
from streamlit_app.api import ApiError, ChatApi, http_client
from streamlit_app.identity import Identity
from streamlit_app.settings import UiSettings

KEY_IDENTITY = "auth_identity"
KEY_MODELS = "app_models"
KEY_MODELS_AT = "app_models_at"
#: The model list is read again after this long, so new models appear without a sign-out, and
#: a model an administrator switched off leaves the pickers as soon as the API stops serving it
#: (issue 21: within 30 s).
MODELS_TTL_S = 30


@st.cache_resource(show_spinner=False)
def _shared_http(settings_json: str) -> httpx.Client:
    return http_client(UiSettings.model_validate_json(settings_json))


def settings() -> UiSettings:
    return UiSettings.from_env()


def identity() -> Identity:
    return st.session_state[KEY_IDENTITY]


def api() -> ChatApi:
    user = identity()
    return ChatApi(_shared_http(settings().model_dump_json()), user.token, token_header=user.token_header)


def chat_models() -> list[ModelInfo]:
    """The models people can chat with (GET /models, kept a few minutes). Raises ApiError."""
    state = st.session_state
    if KEY_MODELS not in state or time.monotonic() - state.get(KEY_MODELS_AT, 0) > MODELS_TTL_S:
        state[KEY_MODELS] = [model for model in api().models() if model.task == "chat"]
        state[KEY_MODELS_AT] = time.monotonic()
    return state[KEY_MODELS]


def chat_models_or_stop(*, minimum: int, activity: str, too_few: str, retry_key: str) -> list[ModelInfo]:
    """The chat models, or a message in words and the end of this page run."""
    try:
        models = chat_models()
    except ApiError as exc:
        st.error(f"The models cannot be listed, so {activity} is not possible right now: {exc}")
        st.button("Try again", key=retry_key)
        st.stop()
    if len(models) < minimum:
        st.warning(too_few)
        st.stop()
    return models
