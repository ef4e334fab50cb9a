"""Who is using the app, and the token that proves it to the chat API.

Two ways in, picked by UiSettings.login:
- local: streamlit-authenticator over the users file; the app signs a short-lived HS256 token
  for the signed-in user with the chat API's own local secret (chatbot/api/local_tokens.py).
- oidc: `st.login` with Cognito; the user's ID token (exposed by `expose_tokens = "id"` in
  secrets.toml) is forwarded as it is, and the chat API verifies it against the user pool.

Both draw their own sign-in page, and `signed_in()` returns None until someone is signed in.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Literal

import streamlit as st

from chatbot.api.local_tokens import issue_local_token, local_secret
from chatbot.api.users import ADMIN, RememberMe, check_name
from streamlit_app.cookies import DESK, CookieOrder, url_of
from streamlit_app.formatting import as_plain_text
from streamlit_app.settings import UiSettings
from streamlit_app.users import UsersError, UsersFile

#: Where the token travels: Authorization (local) or X-Id-Token (behind AWS_IAM).
TokenHeader = Literal["authorization", "x-id-token"]

#: Local tokens are re-issued when less than this is left of them.
TOKEN_MARGIN_S = 600
LOCAL_TOKEN_TTL_S = 4 * 3600

KEY_TOKEN = "auth_token"
KEY_TOKEN_EXPIRES = "auth_token_expires"
KEY_TOKEN_USER = "auth_token_user"
KEY_FIRST_CREATED = "auth_first_created"
#: The sidebar's Log out button.
KEY_LOG_OUT = "auth_logout"
#: A "remember me" cookie the browser has not yet confirmed it holds.
KEY_REMEMBER_ME = "auth_remember_me"
#: The ticket (cookies.py) under which the server sets that cookie: (cookie value, ticket).
KEY_REMEMBER_TICKET = "auth_remember_ticket"
#: Cognito: (the ID token of the sign-in, the latest renewed from it), see OidcLogin.
KEY_RENEWED_ID_TOKEN = "auth_renewed_id_token"
#: Cognito: an ID token this close to its expiry is renewed with the refresh token.
RENEW_MARGIN_S = 300
#: The account that was removed while signed in here (the sign-in page says so).
KEY_REMOVED = "auth_removed"
#: The account whose password was reset while signed in here (the sign-in page says so).
KEY_PASSWORD_RESET = "auth_password_reset"
#: When this browser session signed in (epoch seconds): a password reset after it ends it.
KEY_SIGNED_IN_AT = "auth_signed_in_at"

#: The only session state that outlives a sign-out: it belongs to this browser's sign-in, not to
#: whoever was signed in. streamlit-authenticator's own flags (its "logout" flag makes it ignore a
#: "remember me" cookie the browser has not deleted yet), and the sign-in page's notices. Every
#: other key, whichever page or widget made it, is the user's and goes (forget_the_last_user).
KEPT_ACROSS_USERS = frozenset(
    {
        "authentication_status",
        "username",
        "name",
        "email",
        "roles",
        "logout",
        "password_hint",
        KEY_FIRST_CREATED,
        KEY_REMOVED,
        KEY_PASSWORD_RESET,
    }
)


def forget_the_last_user() -> None:
    """Nothing of a user's may stay for whoever signs in next in this browser: every key of the
    session state goes but the few the sign-in keeps (KEPT_ACROSS_USERS), so a new page's state
    needs no list to be kept in step."""
    for key in list(st.session_state):
        if key not in KEPT_ACROSS_USERS:
            del st.session_state[key]


@dataclass(frozen=True)
class Identity:
    user_id: str
    display_name: str
    token: str
    token_header: TokenHeader = "authorization"
    #: Administrators manage users (the chat API checks the role in the token too).
    is_admin: bool = False


class LocalLogin:
    """streamlit-authenticator over the users file. One per run: its cookie component may be
    drawn only once per run."""

    def __init__(self, settings: UiSettings):
        self._users = UsersFile(settings.users_file)
        self._authenticator = None

    def signed_in(self) -> Identity | None:
        """The signed-in user; otherwise draws the sign-in page and returns None."""
        names = self._users.names()
        if not names:
            _first_account(self._users)
            return None
        was_signed_in = bool(st.session_state.get("authentication_status"))
        if not was_signed_in:
            self._refuse_a_cookie_from_before_a_sign_out()
            st.title("Multi-LLM chatbot")
            st.caption("Chat with several language models, one at a time or side by side.")
            if created := st.session_state.get(KEY_FIRST_CREATED):
                st.success(
                    f"The account {as_plain_text(created)} is ready, and it is the administrator. Sign in with it."
                )
            if removed := st.session_state.pop(KEY_REMOVED, None):
                st.warning(
                    f"An administrator removed the account {as_plain_text(removed)}, so you are signed out."
                )
            if reset := st.session_state.pop(KEY_PASSWORD_RESET, None):
                st.warning(
                    f"The password of {as_plain_text(reset)} was changed, so you are signed out. "
                    "Sign in with the new password."
                )
        self._get().login(
            location="main",
            key="auth_login_form",
            fields={
                "Form name": "Sign in",
                "Username": "User name",
                "Password": "Password",
                "Login": "Sign in",
            },
        )
        status = st.session_state.get("authentication_status")
        if status is False:
            st.error("Wrong user name or password. Try again.")
        if not status:
            st.caption(
                "No account? An administrator adds one on the Users page, or with "
                "`python -m streamlit_app.users add NAME` (which also resets a forgotten password)."
            )
            return None
        user = str(st.session_state["username"])
        if user not in names:  # removed by an administrator since signing in
            self.sign_out()
            st.session_state[KEY_REMOVED] = user
            return self.signed_in()  # the sign-in page
        if not was_signed_in:
            st.session_state[KEY_SIGNED_IN_AT] = time.time()
        elif not self._users.accepts_token(user, st.session_state.get(KEY_SIGNED_IN_AT, 0.0)):
            # A reset ends the sessions that knew the old password, here as in the chat API
            # (which refuses tokens older than the reset; this app could mint itself new ones).
            self.sign_out()
            st.session_state[KEY_PASSWORD_RESET] = user
            return self.signed_in()  # the sign-in page
        name = str(st.session_state.get("name") or user)
        if not was_signed_in and not self._brought_a_good_cookie(user):  # signed in with the form
            st.session_state[KEY_REMEMBER_ME] = self._users.remember_me(user)
        self._give_the_browser_its_cookie()
        admin = self._users.is_admin(user)
        return Identity(user_id=user, display_name=name, token=_local_token(user, admin), is_admin=admin)

    def sign_out(self) -> None:
        st.session_state.pop(KEY_REMEMBER_ME, None)
        if user := st.session_state.get("username"):
            self._users.sign_out_everywhere(str(user))
        # streamlit-authenticator's own sign-out (its session state; its script cannot reach an
        # HttpOnly cookie), and the server's delete of the cookie, drawn in this run.
        self._get().logout(location="unrendered")
        st.session_state.pop(KEY_REMEMBER_TICKET, None)
        _have_the_browser_fetch(DESK.hand_over(CookieOrder(name=self._users.cookie_name(), value=None)))
        _forget_token()

    def _refuse_a_cookie_from_before_a_sign_out(self) -> None:
        """The browser deletes its "remember me" cookie when the sign-out page's component runs
        there, and a reload can come before it (another browser keeps its copy anyway): a cookie
        made before its user's last sign-out, or whose user is gone, signs nobody in."""
        claims = self._cookie_claims()
        if claims is not None and not self._users.accepts_cookie(
            str(claims.get("username")), float(claims.get("exp_date", 0))
        ):
            st.session_state["logout"] = True  # streamlit-authenticator's flag: it then ignores the cookie

    def _brought_a_good_cookie(self, user: str) -> bool:
        claims = self._cookie_claims()
        return (
            claims is not None
            and claims.get("username") == user
            and self._users.accepts_cookie(user, float(claims.get("exp_date", 0)))
        )

    def _cookie_claims(self) -> dict | None:
        """The claims of the "remember me" cookie this browser sent, when its signature holds."""
        import jwt

        cookie = st.context.cookies.get(self._users.cookie_name())
        if cookie is None:
            return None
        try:
            return jwt.decode(cookie, self._users.cookie_key(), algorithms=["HS256"])
        except jwt.PyJWTError:
            return None  # streamlit-authenticator refuses it too

    def _give_the_browser_its_cookie(self) -> None:
        """Has the server set the "remember me" cookie in this browser (cookies.py: HttpOnly,
        SameSite=Lax, Secure over HTTPS), drawing the request for it in every run until the
        browser has made it: a rerun before the browser loaded it would otherwise lose it."""
        remember_me: RememberMe | None = st.session_state.get(KEY_REMEMBER_ME)
        if remember_me is None or st.session_state.get(KEY_LOG_OUT):  # never beside Log out's delete
            return
        held = st.session_state.get(KEY_REMEMBER_TICKET)
        if (
            held is None
            or held[0] != remember_me.value
            or not (DESK.waiting(held[1]) or DESK.redeemed(held[1]))
        ):
            order = CookieOrder(
                name=remember_me.name, value=remember_me.value, expires_at=remember_me.expires_at
            )
            held = (remember_me.value, DESK.hand_over(order))
            st.session_state[KEY_REMEMBER_TICKET] = held
        if DESK.redeemed(held[1]):
            st.session_state.pop(KEY_REMEMBER_ME, None)
            st.session_state.pop(KEY_REMEMBER_TICKET, None)
            return
        _have_the_browser_fetch(held[1])

    def _get(self):
        if self._authenticator is None:
            import streamlit_authenticator as stauth

            self._authenticator = stauth.Authenticate(
                credentials=self._users.credentials(),
                cookie_name=self._users.cookie_name(),
                cookie_key=self._users.cookie_key(),
                # 0: it sets no cookie of its own (_give_the_browser_its_cookie does); it still
                # reads and deletes the one it is named.
                cookie_expiry_days=0,
                auto_hash=False,
                # The library waits 0.7 s before every sign-in form for its cookie component; it
                # reads the cookie from the HTTP request instead (st.context.cookies): no wait needed.
                login_sleep_time=0,
            )
        return self._authenticator


def _have_the_browser_fetch(ticket: str) -> None:
    """An invisible image whose address is the ticket: the browser fetches it from this server,
    whose answer sets (or deletes) the cookie. No script: st.html draws it in the page itself."""
    st.html(f'<img src="{url_of(ticket)}" alt="" width="1" height="1" style="position:absolute;opacity:0">')


def _first_account(users: UsersFile) -> None:
    """The sign-in page of an app with no users yet: whoever opens it first makes the first
    account, the administrator (UsersFile.create_first refuses a second one)."""
    st.title("Multi-LLM chatbot")
    st.info(
        "Nobody has an account yet. Create the first one: it is the administrator, who adds "
        "everyone else on the Users page."
    )
    with st.form("auth_first_account"):
        name = st.text_input("User name", key="auth_first_name")
        password = st.text_input("Password", type="password", key="auth_first_password")
        again = st.text_input("Password again", type="password", key="auth_first_again")
        create = st.form_submit_button("Create the first account", type="primary")
    st.caption(f"Accounts are kept, as bcrypt hashes, in `{users.path}`.")
    if not create:
        return
    if password != again:
        st.error("The two passwords differ. Type the same password twice.")
        return
    try:
        users.create_first(name, password)
    except UsersError as exc:
        st.error(str(exc))
        return
    st.session_state[KEY_FIRST_CREATED] = check_name(name)
    st.rerun()


def _local_token(user: str, admin: bool) -> str:
    """A token for the chat API, signed with its local secret and carrying the user's role;
    re-used until close to expiry (or until the role changes)."""
    now = time.time()
    state = st.session_state
    holder = f"{user} admin" if admin else user
    if state.get(KEY_TOKEN_USER) == holder and state.get(KEY_TOKEN_EXPIRES, 0) - now > TOKEN_MARGIN_S:
        return str(state[KEY_TOKEN])
    # The same secret file as the chat API's, found by the same rule (chatbot/api/local_tokens.py).
    secret = local_secret(UiSettings.from_env().secret_file)
    token = issue_local_token(secret, user, ttl_s=LOCAL_TOKEN_TTL_S, roles=[ADMIN] if admin else [])
    state[KEY_TOKEN], state[KEY_TOKEN_EXPIRES], state[KEY_TOKEN_USER] = token, now + LOCAL_TOKEN_TTL_S, holder
    return token


def _forget_token() -> None:
    for key in (KEY_TOKEN, KEY_TOKEN_EXPIRES, KEY_TOKEN_USER):
        st.session_state.pop(key, None)


# -- Cognito (st.login) ----------------------------------------------------------------------


class OidcLogin:
    """`st.login` with the OIDC provider of secrets.toml (Cognito in AWS)."""

    def __init__(self, settings: UiSettings):
        self._settings = settings

    def signed_in(self) -> Identity | None:
        if not getattr(st.user, "is_logged_in", False):  # absent when no [auth] is configured
            st.title("Multi-LLM chatbot")
            st.markdown(
                "Sign in with your account to chat with the models. New here? Ask your administrator "
                "for an account in the user pool."
            )
            st.button(
                "Sign in", on_click=st.login, type="primary", key="auth_sign_in", icon=":material/login:"
            )
            return None
        token = self._current_id_token()
        if token and token_expired(token, time.time()):
            # Renewal failed (no refresh token, or Cognito refused it: expired, revoked, user
            # disabled): sign out, so the next sign-in brings a new one.
            st.info("Your sign-in has expired. Signing you out: sign in again to go on.")
            st.logout()  # the browser goes to Streamlit's logout route, then back to the sign-in page
            return None
        if not token:
            st.error(
                "You are signed in, but the sign-in passed on no ID token, so the chat API cannot know who "
                'you are. The app\'s secrets need `expose_tokens = "id"` in their [auth] section.'
            )
            return None
        name = str(st.user.get("email") or st.user.get("name") or st.user.get("sub") or "you")
        header: TokenHeader = "x-id-token" if self._settings.chat_api_auth == "aws_iam" else "authorization"
        claim = st.user.get("cognito:groups")  # the chat API reads the same claim: a list of names
        groups: list[str] = claim if isinstance(claim, list) else []
        return Identity(
            user_id=str(st.user.get("sub") or name),
            display_name=name,
            token=str(token),
            token_header=header,
            is_admin=ADMIN in groups,
        )

    def _current_id_token(self) -> str | None:
        """The ID token to send: Streamlit's from the sign-in, or one renewed since. Cognito's
        live an hour and Streamlit renews none: one within RENEW_MARGIN_S of its expiry is traded
        for a new one with the refresh token (oidc.py), at the first run after that, so a user
        who is active is never signed out by the clock."""
        signed_in_with = st.user.tokens.get("id")
        if not signed_in_with:
            return None
        renewed = st.session_state.get(KEY_RENEWED_ID_TOKEN)
        token = (
            renewed
            if renewed and renewed[0] == signed_in_with
            else (str(signed_in_with), str(signed_in_with))
        )
        if token_expired(token[1], time.time(), margin_s=RENEW_MARGIN_S):
            from streamlit_app.oidc import REFRESH_COOKIE, renewed_id_token

            fresh = renewed_id_token(st.context.cookies.get(REFRESH_COOKIE))
            if fresh:
                token = (str(signed_in_with), fresh)
                st.session_state[KEY_RENEWED_ID_TOKEN] = token
        return token[1]

    def sign_out(self) -> None:
        st.session_state.pop(KEY_RENEWED_ID_TOKEN, None)
        st.logout()


def token_expired(token: str, now: float, *, margin_s: float = 60) -> bool:
    """Whether a JWT's `exp` is past (or within `margin_s`). Only the app's own bookkeeping: the
    chat API verifies the signature; an unreadable token counts as expired."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) - margin_s <= now
    except (IndexError, ValueError, KeyError, TypeError):
        return True


def login_for(settings: UiSettings) -> LocalLogin | OidcLogin:
    return OidcLogin(settings) if settings.login == "oidc" else LocalLogin(settings)
