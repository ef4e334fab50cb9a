"""Quotas in a real browser: the administrator sets a limit on the Users page, the user runs into
it in the chat and sees the message and their Usage page, the administrator sees the organisation.

Each step leaves a screenshot in test-artifacts/browser/<test>/."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, USER, shot, sign_in
from tests.browser.support import go_to, main, send, wait_until_idle
from tests.streamlit_app.stack import UiStack

LIMITED = "quinn"  # not an administrator: the session's first user (USER) is the one


def test_an_administrator_sets_a_limit_the_user_runs_into_it_and_both_see_their_usage(
    signed_in: Page, other_browser: Page, stack: UiStack
):
    admin = signed_in  # USER, the first account: an administrator
    stack.add_user(LIMITED)

    go_to(admin, "Users")
    main(admin).get_by_text("Whose limits").wait_for()
    whose = main(admin).get_by_test_id("stSelectbox").filter(has_text="Whose limits")
    whose.locator("input").click()
    admin.keyboard.type(f"user: {LIMITED}")
    admin.keyboard.press("Enter")
    wait_until_idle(admin)
    expect(whose.get_by_role("combobox")).to_have_value(f"user: {LIMITED}")
    main(admin).get_by_role("textbox", name="Tokens per day").fill("5")
    main(admin).get_by_role("button", name="Save limits").click()
    expect(admin.get_by_text(f"Saved the limits of user {LIMITED}.")).to_be_visible()
    shot(admin, "limit-set")

    user = other_browser
    sign_in(user, LIMITED, PASSWORD)
    expect(user.get_by_text(f"Signed in as {LIMITED}")).to_be_visible()
    wait_until_idle(user)
    send(user, "Hello there")
    expect(main(user).get_by_text("Not enough left of your 5 tokens for today (UTC)")).to_be_visible()
    shot(user, "refused")

    go_to(user, "Usage")
    expect(main(user).get_by_text("Tokens today")).to_be_visible()
    expect(main(user).get_by_text("left of 5")).to_be_visible()
    expect(main(user).get_by_text("The organisation")).to_have_count(0)
    shot(user, "usage-page")

    go_to(admin, "Usage")
    expect(main(admin).get_by_text("The organisation", exact=True)).to_be_visible()
    expect(main(admin).get_by_text("Top users")).to_be_visible()
    expect(main(admin).get_by_text("Audit log", exact=True)).to_be_visible()
    shot(admin, "organisation")
    assert USER != LIMITED
