"""The "remember me" cookie is set by the web server, never by a script: HttpOnly, SameSite=Lax,
Secure whenever the browser came over HTTPS, and only for the one request that holds its ticket."""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.testclient import TestClient

from streamlit_app.cookies import CookieDesk, CookieOrder, routes, url_of


def client_of(desk: CookieDesk, base_url: str = "http://testserver") -> TestClient:
    return TestClient(Starlette(routes=routes(desk)), base_url=base_url)


def order() -> CookieOrder:
    return CookieOrder(name="chatbot_login", value="signed.jwt.value", expires_at=time.time() + 7 * 86400)


def test_the_cookie_comes_with_httponly_samesite_lax_and_its_expiry():
    desk = CookieDesk()
    ticket = desk.hand_over(order())
    response = client_of(desk).get(url_of(ticket))
    assert response.status_code == 204
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("chatbot_login=signed.jwt.value;")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age", "expires"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP (make chat): a Secure cookie would never come back
    assert 7 * 86400 - 5 <= int(cookie.lower().split("max-age=")[1].split(";")[0]) <= 7 * 86400
    assert desk.redeemed(ticket)


def test_behind_https_the_cookie_is_secure():
    desk = CookieDesk()
    direct = client_of(desk, "https://chat.example.com").get(url_of(desk.hand_over(order())))
    # The ALB ends TLS and talks HTTP to the task; it says how the browser came.
    forwarded = client_of(desk).get(url_of(desk.hand_over(order())), headers={"X-Forwarded-Proto": "https"})
    for response in (direct, forwarded):
        assert "; secure" in response.headers["set-cookie"].lower()


def test_a_ticket_works_once_and_an_invented_one_never():
    desk = CookieDesk()
    ticket = desk.hand_over(order())
    client = client_of(desk)
    assert client.get(url_of(ticket)).status_code == 204
    again = client.get(url_of(ticket))
    assert again.status_code == 404
    assert "set-cookie" not in again.headers
    assert client.get(url_of("made-up")).status_code == 404


def test_a_delete_order_expires_the_cookie():
    desk = CookieDesk()
    response = client_of(desk).get(url_of(desk.hand_over(CookieOrder(name="chatbot_login", value=None))))
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith('chatbot_login="";') or cookie.startswith("chatbot_login=;")
    assert "max-age=0" in cookie
    assert "httponly" in cookie
