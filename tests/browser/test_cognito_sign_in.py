"""Signing in with Cognito (st.login), in Chromium, against a stand-in that holds to Cognito's
documented contract (cognito_standin.py): Log out ends the app's session and Cognito's and lands
on the sign-in page; an ID token near its expiry is renewed with the refresh token, not ended."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Page, expect

from launcher.stack import web_app
from streamlit_app.settings import UiSettings
from tests.browser.cognito_standin import CLIENT_ID, CLIENT_SECRET, CognitoStandIn, cognito_standin
from tests.browser.conftest import shot
from tests.browser.support import wait_until_idle
from tests.servers import free_port, running_server
from tests.streamlit_app.stack import UiStack

#: The name is drawn as plain text: a word joiner sits before the @ (formatting.as_plain_text).
SIGNED_IN = re.compile(r"Signed in as alice\W?@example\.com")


@contextmanager
def app_with_cognito(stack: UiStack, home, **standin_options) -> Iterator[tuple[str, CognitoStandIn]]:
    """The web app as deployed (streamlit_app.serve writes [auth] from the environment), signing
    in at the stand-in, whose app client lists the app's root as its one sign-out URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with cognito_standin([f"{url}/"], **standin_options) as standin:
        settings = UiSettings(
            ui_auth="oidc",
            auth_client_id=CLIENT_ID,
            auth_client_secret=CLIENT_SECRET,
            auth_redirect_uri=f"{url}/oauth2callback",
            auth_server_metadata_url=f"{standin.url}/.well-known/openid-configuration",
            auth_cookie_secret="a cookie secret for the stand-in test, long enough",
        )
        env = {**stack.env(), **settings.to_env(), "HOME": str(home)}  # HOME: where serve writes secrets.toml
        app = web_app("127.0.0.1", port, UiSettings())
        with running_server(app.args, app.health_url, env=env):
            yield app.url, standin


def sign_in_with_cognito(page: Page, url: str) -> None:
    page.goto(url)
    wait_until_idle(page)
    page.get_by_role("button", name="Sign in").click()  # to the stand-in, which signs alice in
    expect(page.get_by_text(SIGNED_IN)).to_be_visible()
    wait_until_idle(page)


def test_log_out_ends_the_apps_and_cognitos_session_and_lands_on_the_sign_in_page(
    page: Page, stack: UiStack, tmp_path
):
    with app_with_cognito(stack, tmp_path) as (url, standin):
        sign_in_with_cognito(page, url)
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        expect(page.get_by_text(SIGNED_IN)).to_have_count(0)
        shot(page, "signed-out")
        # Cognito's /logout was called as its documentation says, and sent the browser home.
        assert standin.logouts == [{"client_id": CLIENT_ID, "logout_uri": f"{url}/"}]
        assert page.url == f"{url}/"
        assert standin.revoked, "the refresh token was revoked (Cognito's /logout leaves it valid)"
        assert not [
            c for c in page.context.cookies() if c["name"].startswith(("_streamlit_user", "chatbot_"))
        ]
        page.reload()  # and the app's own session is over
        wait_until_idle(page)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_an_id_token_near_its_expiry_is_renewed_and_the_user_stays_signed_in(
    page: Page, stack: UiStack, tmp_path
):
    # The sign-in's ID token has 30 s left, as every Cognito ID token has 59.5 minutes after its
    # sign-in: the app used to sign the user out then. Renewed tokens live the usual hour.
    with app_with_cognito(stack, tmp_path, sign_in_id_token_ttl_s=30) as (url, standin):
        sign_in_with_cognito(page, url)
        expect(page.get_by_text("Your sign-in has expired")).to_have_count(0)
        assert standin.refreshes, "the app renewed the ID token with the refresh token"
        refresh_cookie = next(c for c in page.context.cookies() if c["name"] == "chatbot_refresh")
        assert refresh_cookie["httpOnly"] is True
        assert refresh_cookie["sameSite"] == "Lax"
        page.reload()  # a new session of the page: renewed again from the cookie
        expect(page.get_by_text(SIGNED_IN)).to_be_visible()
        wait_until_idle(page)
        expect(page.get_by_text("Your sign-in has expired")).to_have_count(0)
        shot(page, "still-signed-in")
