"""From an empty data folder, in Chromium: the first visitor creates the first account, which is
the administrator; they add a user on the Users page, who signs in and never sees that page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import shot, sign_in, web_app
from tests.browser.support import go_to, main, wait_until_idle
from tests.streamlit_app.stack import PASSWORD, UiStack, ui_stack


@pytest.fixture(scope="module")
def stack(model_server_url: str, postgres_server_url: str, tmp_path_factory) -> Iterator[UiStack]:
    """The stack as `make chat` runs it on a fresh machine: nobody has an account."""
    folder = tmp_path_factory.mktemp("empty-data")
    with ui_stack(model_server_url, postgres_server_url, folder, "ui_browser_first_account") as running:
        assert not running.users_file.exists()
        yield running


@pytest.fixture(scope="module")
def app_url(stack: UiStack) -> Iterator[str]:
    with web_app(stack) as url:
        yield url


def test_the_first_visitor_creates_the_administrator_who_adds_a_user(page: Page, stack: UiStack):
    page.goto("/")
    wait_until_idle(page)
    expect(page.get_by_text("Nobody has an account yet.")).to_be_visible()
    shot(page, "no-account-yet")
    page.get_by_role("textbox", name="User name").fill("ada")
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.get_by_role("textbox", name="Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create the first account").click()
    expect(page.get_by_text("The account ada is ready, and it is the administrator.")).to_be_visible()
    shot(page, "first-account-created")

    sign_in(page, "ada")
    expect(page.get_by_text("Signed in as ada")).to_be_visible()
    wait_until_idle(page)
    go_to(page, "Users")
    expect(main(page).get_by_text("ada · administrator")).to_be_visible()
    main(page).get_by_role("textbox", name="User name").fill("bob")
    main(page).get_by_role("textbox", name="Password").fill("bobs own password")
    main(page).get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Added bob.")).to_be_visible()
    shot(page, "bob-added")
    wait_until_idle(page)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    wait_until_idle(page)

    sign_in(page, "bob", "bobs own password")
    expect(page.get_by_text("Signed in as bob")).to_be_visible()
    wait_until_idle(page)
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Chat")).to_be_visible()
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    shot(page, "bob-sees-no-users-page")
