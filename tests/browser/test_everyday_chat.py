"""Everyday chat in a real browser (issue 23): the sidebar at the tests' 1400 px, thumbs on an
answer reaching the leaderboard, share links seen by a second user, search.

Each step leaves a screenshot in test-artifacts/browser/<test>/.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from chatbot.api.local_tokens import local_secret
from chatbot.api.users import UsersFile
from lambdas.chat_api.auth import LocalTokens
from tests.browser.conftest import USER, shot, sign_in
from tests.browser.support import go_to, main, send, set_max_tokens, wait_until_idle
from tests.streamlit_app.stack import UiStack
from tests.waiting import eventually

#: Labels cut with an ellipsis keep their whole text in the DOM: only their box says they are cut.
_CUT_LABELS = """(button) => [...button.querySelectorAll('*')]
    .filter((el) => el.scrollWidth > el.clientWidth + 1 && el.innerText.trim())
    .map((el) => el.innerText.trim())"""


def as_user(stack: UiStack, user: str = USER) -> httpx.Client:
    token = LocalTokens(local_secret(stack.secret_file)).issue(user)
    return httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def thumbs_up(stack: UiStack, model: str) -> int:
    with as_user(stack) as api:
        rows = api.get("/feedback/approval").json()["models"]
    return next((row["up"] for row in rows if row["model"] == model), 0)


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


def test_a_thumb_on_an_answer_reaches_the_leaderboard(signed_in: Page, stack: UiStack):
    page = signed_in
    before = thumbs_up(stack, "smollm2-135m")
    ask(page, "Name a fruit.")
    answer = main(page).get_by_test_id("stChatMessage").nth(1)
    answer.get_by_role("button", name="Feedback").click()
    page.get_by_test_id("stButtonGroup").get_by_text("Good").click()
    page.get_by_role("textbox", name="Comment (optional)").fill("Short and right.")
    shot(page, "thumb-chosen")
    page.get_by_role("button", name="Send feedback").click()
    expect(answer.get_by_text("Your feedback:")).to_contain_text("Good")
    shot(page, "thumb-given")

    assert thumbs_up(stack, "smollm2-135m") == before + 1

    go_to(page, "Leaderboard")
    # The table is drawn on a canvas: its cells are in the screenshot, not in the page's text.
    expect(main(page).get_by_test_id("stDataFrame").first).to_be_visible()
    shot(page, "leaderboard-with-approval")


def test_a_share_link_is_seen_by_a_second_user_until_its_owner_revokes_it(
    signed_in: Page, other_browser: Page, stack: UiStack
):
    page = signed_in
    ask(page, "Name a river.")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("button", name="Share").click()
    page.get_by_role("button", name="Make a link").click()
    code = page.get_by_test_id("stCode").filter(has_text="/shared?id=")
    expect(code).to_be_visible()
    link = code.inner_text().strip()
    shot(page, "link-made")

    viewer = stack.add_user("viewer")
    sign_in(other_browser, viewer)
    expect(other_browser.get_by_text(f"Signed in as {viewer}")).to_be_visible()
    cookie = UsersFile(stack.users_file).cookie_name()  # remembered: the link opens signed in
    eventually(
        lambda: {held["name"] for held in other_browser.context.cookies()}, lambda names: cookie in names
    )
    wait_until_idle(other_browser)
    other_browser.goto(link)
    expect(main(other_browser).get_by_text(f"Shared by {USER}")).to_be_visible()
    expect(
        main(other_browser).get_by_test_id("stChatMessage").filter(has_text="Name a river.")
    ).to_have_count(1)
    shot(other_browser, "seen-by-a-second-user")

    go_to(page, "Settings")
    expect(main(page).get_by_text("Shared links")).to_be_visible()
    main(page).get_by_role("button", name="Revoke").last.click()
    expect(main(page).get_by_text("Name a river. · revoked")).to_be_visible()
    shot(page, "revoked")

    other_browser.reload()
    expect(main(other_browser).get_by_text("No shared conversation has this link")).to_be_visible()
    shot(other_browser, "revoked-link-not-found")


def test_search_finds_an_older_conversation_and_pinning_keeps_it_on_top(signed_in: Page):
    page = signed_in
    ask(page, "Name a mountain.")
    main(page).get_by_role("button", name="New chat").click()
    wait_until_idle(page)
    ask(page, "Name a bird.")
    sidebar = page.get_by_test_id("stSidebar")
    box = sidebar.get_by_role("textbox", name="Search conversations")
    box.fill("mountain")
    box.press("Enter")
    hit = page.locator("[class*='st-key-hist_hit_']").filter(has_text="Name a mountain.")
    expect(hit).to_have_count(1)
    shot(page, "search-hit")
    hit.get_by_role("button").click()
    expect(main(page).get_by_test_id("stChatMessage").first).to_contain_text("Name a mountain.")
    wait_until_idle(page)
    sidebar.get_by_role("button", name="Pin", exact=True).click()
    expect(sidebar.get_by_text("Pinned", exact=True)).to_be_visible()
    expect(page.locator("[class*='st-key-hist_pin_']").filter(has_text="Name a mountain.")).to_have_count(1)
    shot(page, "pinned")


def test_editing_a_question_starts_a_branch_and_the_page_moves_between_them(signed_in: Page):
    page = signed_in
    ask(page, "Name a colour.")
    question = main(page).get_by_test_id("stChatMessage").first
    question.get_by_role("button", name="Edit").click()
    page.get_by_role("textbox", name="Edited question").fill("Name a fruit.")
    page.get_by_role("button", name="Send as a new branch").click()
    expect(main(page).get_by_test_id("stChatMessage").first).to_contain_text("Name a fruit.")
    # Once answered and saved, the question shows it is the second of two versions.
    expect(main(page).get_by_text("2/2", exact=True)).to_be_visible(timeout=60_000)
    wait_until_idle(page)
    page.keyboard.press("Escape")
    expect(main(page).get_by_test_id("stChatMessage")).to_have_count(2)
    shot(page, "second-branch")
    main(page).get_by_role("button", name="‹").click()
    expect(main(page).get_by_test_id("stChatMessage").first).to_contain_text("Name a colour.")
    expect(main(page).get_by_text("1/2", exact=True)).to_be_visible()
    shot(page, "first-branch-kept")
