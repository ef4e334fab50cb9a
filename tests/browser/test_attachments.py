"""Attachments in a real browser (issue 23): a file picked in the sidebar goes with the next
question, and shows as a chip under it. Screenshots in test-artifacts/browser/<test>/."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import shot
from tests.browser.support import main, send, set_max_tokens, wait_until_idle


def test_a_file_attached_in_the_sidebar_shows_as_a_chip_under_the_question(signed_in: Page, tmp_path: Path):
    page = signed_in
    plan = tmp_path / "plan.txt"
    plan.write_text("The code word is HELIOTROPE.")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(plan))
    expect(sidebar.get_by_text("plan.txt")).to_be_visible()
    shot(page, "file-picked")

    set_max_tokens(page, 8)
    send(page, "What is the code word?")
    messages = main(page).get_by_test_id("stChatMessage")
    expect(messages).to_have_count(2)
    expect(main(page).get_by_text("tokens/s")).to_be_visible()
    wait_until_idle(page)
    expect(messages.first.get_by_text("plan.txt")).to_be_visible()
    expect(messages.last.get_by_text("(no text)")).to_have_count(0)  # the answer shows its own text
    messages.last.get_by_text("Sources (1)").click()
    expect(messages.last.get_by_text("plan.txt (attached file)")).to_be_visible()
    expect(sidebar.get_by_text("plan.txt")).to_have_count(0)  # the picker is empty again
    shot(page, "chip-under-question")
