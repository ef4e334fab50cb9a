"""What a person does in the app, as Playwright steps."""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Locator, Page


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMainBlockContainer")


def set_max_tokens(page: Page, tokens: int) -> None:
    """Parameters popover → Max new tokens."""
    wait_until_idle(page)
    main(page).get_by_role("button", name="Parameters").click()
    field = page.get_by_role("spinbutton", name="Max new tokens")
    field.fill(str(tokens))
    field.press("Enter")
    page.keyboard.press("Escape")
    wait_until_idle(page)


def send(page: Page, prompt: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(prompt)
    box.press("Enter")


def go_to(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    wait_until_idle(page)


def wait_until_idle(page: Page, timeout_s: float = 60) -> None:
    """Until the script has finished running (Streamlit's status widget says nothing)."""
    time.sleep(0.3)  # a rerun may take a moment to start
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout_s * 1000)


def sample(
    read: Callable[[], object], *, every_s: float, until: Callable[[], bool], timeout_s: float
) -> list:
    """`read()` every `every_s` seconds until `until()` holds; all the values read."""
    values, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        values.append(read())
        if until():
            return values
        time.sleep(every_s)
    raise AssertionError(f"still waiting after {timeout_s} s; read so far: {values[-5:]}")


def text_now(page: Page, css: str, index: int = 0) -> str | None:
    """The text of the index-th element matching `css` right now, or None: never waits, so a
    sample taken as the element goes away does not hang."""
    return page.evaluate(
        "([css, index]) => { const found = document.querySelectorAll(css)[index]; return found ? found.innerText : null; }",
        [css, index],
    )
