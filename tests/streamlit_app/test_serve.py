"""The container's start-up: st.login's [auth] section written from the task's environment."""

from __future__ import annotations

import stat
import tomllib

import pytest

from streamlit_app.serve import MissingSettingError, auth_secrets, write_auth_secrets

ENV = {
    "AUTH_REDIRECT_URI": "https://chat.example.com/oauth2callback",
    "AUTH_CLIENT_ID": "client-id",
    "AUTH_CLIENT_SECRET": 'se"cr\\et',
    "AUTH_SERVER_METADATA_URL": "https://cognito-idp.eu-west-1.amazonaws.com/pool/.well-known/openid-configuration",
    "AUTH_COOKIE_SECRET": "cookie-secret",
}


def test_the_auth_section_exposes_the_id_token_for_the_chat_api():
    auth = tomllib.loads(auth_secrets(ENV))["auth"]
    assert auth["client_id"] == "client-id"
    assert auth["client_secret"] == 'se"cr\\et'  # quoted safely
    assert auth["redirect_uri"].endswith("/oauth2callback")
    assert auth["expose_tokens"] == "id"
    assert auth["client_kwargs"]["prompt"] == "login"  # Cognito does not take select_account


def test_a_missing_setting_is_named():
    with pytest.raises(MissingSettingError, match="AUTH_COOKIE_SECRET"):
        auth_secrets({k: v for k, v in ENV.items() if k != "AUTH_COOKIE_SECRET"})


def test_the_secrets_file_is_readable_by_its_owner_only(tmp_path):
    written = write_auth_secrets(ENV, tmp_path)
    assert written == tmp_path / ".streamlit" / "secrets.toml"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
