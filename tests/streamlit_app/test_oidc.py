"""Cognito's sign-out parameters and the sealed refresh token (the browser test runs the routes
against a stand-in: tests/browser/test_cognito_sign_in.py)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from streamlit_app.oidc import app_root, cognito_logout_location, seal, unseal


def test_cognito_is_sent_its_client_id_and_the_apps_root_as_logout_uri():
    # infra/components/cognito.py lists https://<host>/ as the app client's one sign-out URL.
    root = app_root("https://chat.example.com/oauth2callback")
    assert root == "https://chat.example.com/"
    location = cognito_logout_location("https://login.example.com/logout", "the-client", root)
    assert location.startswith("https://login.example.com/logout?")
    assert parse_qs(urlsplit(location).query) == {"client_id": ["the-client"], "logout_uri": [root]}


def test_the_refresh_token_is_sealed_with_the_cookie_secret():
    sealed = seal("the refresh token", "secret one")
    assert "the refresh token" not in sealed
    assert unseal(sealed, "secret one") == "the refresh token"
    assert unseal(sealed, "another secret") is None
    assert unseal("not sealed at all", "secret one") is None
    assert unseal(None, "secret one") is None
