"""Models at runtime in a real browser (issue 21): the administrator switches a model off on the
Models page, and a user signing in no longer finds it in the chat's model picker; switched on
again, it is back.

Each step leaves a screenshot in test-artifacts/browser/<test>/."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from chatbot.api.local_tokens import local_secret
from lambdas.chat_api.auth import LocalTokens
from tests.browser.conftest import PASSWORD, USER, shot, sign_in
from tests.browser.support import go_to, main, wait_until_idle
from tests.streamlit_app.stack import UiStack

GEMMA = "gemma3-270m"
READER = "mo"  # not an administrator: the session's first user (USER) is the one


def picker_options(page: Page) -> list[str]:
    """The model picker's options, read from its open list. A click that lands while the page
    reruns (the sign-in's cookie component can set one off well after the page looked idle on a
    loaded machine) is swallowed by the redrawn widget, so the list is opened again until it shows."""
    picker = main(page).get_by_test_id("stSelectbox").filter(has_text="Model")
    options = page.get_by_role("option")
    for _ in range(3):
        wait_until_idle(page)
        picker.locator("input").click()
        try:
            options.first.wait_for(timeout=10_000)
            break
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
    else:
        raise AssertionError("the model picker's list never opened")
    names = [option.inner_text().strip() for option in options.all()]
    page.keyboard.press("Escape")
    return names


def switch(admin: Page, on: bool) -> None:
    row = main(admin).locator(f".st-key-models_row_{GEMMA}")
    toggle = row.locator("input[type=checkbox]").first  # the Enabled toggle; Default comes after
    if toggle.is_checked() != on:
        row.get_by_text("Enabled").click()
        wait_until_idle(admin)
    row.get_by_role("button", name="Save").click()
    expect(admin.get_by_text(f"Saved {GEMMA}.")).to_be_visible()


def test_an_administrator_switches_a_model_off_and_a_user_no_longer_finds_it(
    signed_in: Page, other_browser: Page, stack: UiStack
):
    admin = signed_in  # USER, the first account: an administrator
    stack.add_user(READER)
    try:
        go_to(admin, "Models")
        main(admin).get_by_text("Models and presets").wait_for()
        switch(admin, on=False)
        shot(admin, "switched-off")

        user = other_browser
        sign_in(user, READER, PASSWORD)
        expect(user.get_by_text(f"Signed in as {READER}")).to_be_visible()
        wait_until_idle(user)
        offered = picker_options(user)
        assert GEMMA not in offered
        assert offered, "the other models are still there"
        shot(user, "not-offered")

        switch(admin, on=True)
        user.reload()
        wait_until_idle(user)
        assert GEMMA in picker_options(user)
        shot(user, "offered-again")
    finally:  # the other browser tests of this session compare with Gemma
        token = LocalTokens(local_secret(stack.secret_file)).issue(USER, roles=("admin",))
        httpx.put(
            f"{stack.api_url}/admin/models/{GEMMA}",
            json={"enabled": True},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).raise_for_status()
