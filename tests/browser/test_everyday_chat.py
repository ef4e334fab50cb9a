"""Everyday chat in a real browser (issue 23): the sidebar at the tests' 1400 px, thumbs on an
answer reaching the leaderboard, share links seen by a second user, search.

Each step leaves a screenshot in test-artifacts/browser/<test>/.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import shot
from tests.browser.support import main, send, set_max_tokens, wait_until_idle

#: Labels cut with an ellipsis keep their whole text in the DOM: only their box says they are cut.
_CUT_LABELS = """(button) => [...button.querySelectorAll('*')]
    .filter((el) => el.scrollWidth > el.clientWidth + 1 && el.innerText.trim())
    .map((el) => el.innerText.trim())"""


def ask(page: Page, prompt: str) -> None:
    """Send `prompt` for a short answer and wait until it has been answered and saved."""
    set_max_tokens(page, 8)
    send(page, prompt)
    expect(main(page).get_by_test_id("stChatMessage")).to_have_count(2)
    expect(main(page).get_by_text("tokens/s")).to_be_visible()
    wait_until_idle(page)


def test_the_sidebar_shows_this_conversations_actions_in_full(signed_in: Page):
    page = signed_in
    ask(page, "Name a colour.")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("This conversation")).to_be_visible()
    shot(page, "this-conversation")
    for label in ("Rename", "Export", "Delete"):
        button = sidebar.get_by_role("button", name=label, exact=True)
        expect(button).to_be_visible()
        assert button.evaluate(_CUT_LABELS) == [], f"the sidebar's {label!r} button is cut short"
