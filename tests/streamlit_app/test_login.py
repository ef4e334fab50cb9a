from __future__ import annotations

import re
import time

import jwt

from chatbot.api.users import UsersFile
from streamlit_app.cookies import DESK
from streamlit_app.identity import KEPT_ACROSS_USERS
from tests.streamlit_app.conftest import new_app, sign_in


def texts(app) -> str:
    return "\n".join(
        str(element.value)
        for element in [
            *app.markdown,
            *app.caption,
            *app.code,
            *app.info,
            *app.warning,
            *app.error,
            *app.success,
        ]
    )


def test_with_no_users_yet_the_page_offers_to_create_the_first_account(stack, monkeypatch, tmp_path):
    monkeypatch.setenv("CHATBOT_USERS_FILE", str(tmp_path / "nobody.yaml"))
    app = new_app().run()
    assert "Nobody has an account yet. Create the first one: it is the administrator" in texts(app)
    assert [field.label for field in app.text_input] == ["User name", "Password", "Password again"]
    assert [button.label for button in app.button] == ["Create the first account"]


def test_the_first_account_needs_the_same_password_twice(stack, monkeypatch, tmp_path):
    monkeypatch.setenv("CHATBOT_USERS_FILE", str(tmp_path / "nobody.yaml"))
    app = new_app().run()
    for field, value in zip(app.text_input, ["ada", "a long password", "another password"], strict=True):
        field.input(value)
    app = app.button[0].click().run()
    assert "The two passwords differ. Type the same password twice." in [error.value for error in app.error]
    assert not (tmp_path / "nobody.yaml").exists()


def test_a_user_signs_in_with_the_password_kept_in_the_users_file(stack):
    stack.add_user("carol")
    app = sign_in(new_app(), "carol")
    assert not app.exception
    assert "Signed in as **carol**" in [caption.value for caption in app.sidebar.caption]
    assert [box.value for box in app.selectbox] == ["smollm2-135m"]  # the chat page, with GET /models


def test_a_wrong_password_is_refused_in_words(stack):
    stack.add_user("dave")
    app = sign_in(new_app(), "dave", "not the password")
    assert "Wrong user name or password. Try again." in [error.value for error in app.error]
    assert not app.selectbox


def test_logging_out_brings_back_the_sign_in_form(stack):
    stack.add_user("erin")
    app = sign_in(new_app(), "erin")
    app.sidebar.button(key="auth_logout").click().run()
    assert "You are signed out." in [success.value for success in app.success]
    assert any(button.label == "Sign in" for button in app.button)
    assert "auth_identity" not in app.session_state  # nothing of erin's stays for the next user
    assert "chat_model" not in app.session_state
    app.run()  # and it stays so
    assert any(button.label == "Sign in" for button in app.button)


def test_logging_out_forgets_every_key_of_the_user_even_one_no_list_names(stack):
    stack.add_user("nora")
    app = sign_in(new_app(), "nora")
    app.session_state["notes_draft"] = "nora's unsent note"  # what a page added tomorrow would keep
    app.run()
    app.sidebar.button(key="auth_logout").click().run()
    assert "notes_draft" not in app.session_state
    sign_in_form = "FormSubmitter:auth_login_form-"  # drawn again after the state was dropped
    left = [key for key in app.session_state if not key.startswith(sign_in_form)]
    assert set(left) <= KEPT_ACROSS_USERS  # the sign-in's flags and notices, nothing of nora's


def test_a_user_removed_while_signed_in_is_signed_out_at_their_next_step(stack):
    stack.add_user("ivan")
    app = sign_in(new_app(), "ivan")
    assert "chat_model" in app.session_state
    UsersFile(stack.users_file).remove("ivan")  # by an administrator, elsewhere
    app.run()
    assert "An administrator removed the account ivan, so you are signed out." in [
        w.value for w in app.warning
    ]
    assert any(button.label == "Sign in" for button in app.button)
    assert "auth_identity" not in app.session_state  # nothing of ivan's stays for the next user
    assert "chat_model" not in app.session_state
    assert not app.exception


def test_a_password_reset_elsewhere_signs_the_open_session_out_at_its_next_step(stack):
    # The chat API refuses tokens older than the reset; the app, which mints its own, must not
    # quietly mint a new one for a session that signed in with the old password.
    stack.add_user("jude")
    app = sign_in(new_app(), "jude")
    assert "chat_model" in app.session_state
    UsersFile(stack.users_file).add("jude", "a brand new password")  # reset by an administrator
    app.run()
    assert "The password of jude was changed, so you are signed out. Sign in with the new password." in [
        w.value for w in app.warning
    ]
    assert any(button.label == "Sign in" for button in app.button)
    assert "chat_model" not in app.session_state
    assert not app.exception


def cookie_tickets(app) -> list[str]:
    """The tickets (streamlit_app/cookies.py) of the cookie requests the page drew for the browser."""
    return re.findall(r"/_chatbot/cookie/([\w-]+)", " ".join(str(node.proto) for node in app.get("html")))


def test_signing_in_has_the_server_set_the_remember_me_cookie_asked_in_every_run_until_it_is(stack):
    # A rerun before the browser has made the request takes it off the page: drawn in the
    # sign-in run only (as streamlit-authenticator does with its component), the cookie was
    # sometimes never set. The server itself sets it (HttpOnly), for the ticket the page draws.
    stack.add_user("fay")
    app = sign_in(new_app(), "fay")
    [ticket] = cookie_tickets(app)
    # The same ticket, until the browser has fetched it (AppTest has no browser: here the test
    # fetches it; the browser test sees the cookie set).
    assert cookie_tickets(app.run()) == [ticket]
    assert cookie_tickets(app.run()) == [ticket]
    order = DESK.redeem(ticket)
    assert order is not None
    assert order.value is not None
    users = UsersFile(stack.users_file)
    claims = jwt.decode(order.value, users.cookie_key(), algorithms=["HS256"])
    assert order.name == users.cookie_name()
    assert claims["username"] == "fay"
    assert users.accepts_cookie("fay", claims["exp_date"])
    assert order.expires_at == claims["exp_date"]
    assert cookie_tickets(app.run()) == []  # set: nothing more to ask


def test_logging_out_has_the_server_delete_the_cookie_and_never_set_it_beside(stack):
    stack.add_user("gus")
    app = sign_in(new_app(), "gus")
    assert cookie_tickets(app)
    app.sidebar.button(key="auth_logout").click().run()
    orders = [DESK.redeem(ticket) for ticket in cookie_tickets(app)]
    assert [(order.name, order.value) for order in orders if order] == [
        (UsersFile(stack.users_file).cookie_name(), None)
    ]


def test_the_cloud_sign_in_page_explains_what_to_do(stack, monkeypatch):
    monkeypatch.setenv("CHATBOT_UI_AUTH", "oidc")
    app = new_app()
    app.secrets["auth"] = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "a cookie secret that is long enough",
        "client_id": "client",
        "client_secret": "secret",
        "server_metadata_url": "https://cognito-idp.us-east-1.amazonaws.com/pool/.well-known/openid-configuration",
        "expose_tokens": "id",
    }
    app.run()
    assert not app.exception
    assert "Sign in with your account" in texts(app)
    assert [button.label for button in app.button] == ["Sign in"]
    assert not app.selectbox  # nothing of the app before signing in


def test_an_id_token_past_its_expiry_counts_as_expired():
    from lambdas.chat_api.auth import LocalTokens
    from streamlit_app.identity import token_expired

    token = LocalTokens("x" * 32).issue("someone", ttl_s=3600)
    now = time.time()
    assert not token_expired(token, now)
    assert token_expired(token, now + 3600)
    assert token_expired(token, now + 3590)  # within the margin: it would expire on the way
    assert token_expired("not-a-jwt", now)
