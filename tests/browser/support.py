"""What a person does in the app, as Playwright steps."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

from tests.waiting import sample


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMainBlockContainer")


def set_max_tokens(page: Page, tokens: int) -> None:
    set_parameter(page, "Max new tokens", tokens)


def set_seed(page: Page, seed: int) -> None:
    set_parameter(page, "Seed", seed)


def set_parameter(page: Page, label: str, value: int) -> None:
    """Parameters popover → the number field `label`. Tried again if a rerun closes the popover
    meanwhile, or shows the button's old copy beside its new one (two buttons: Playwright's strict
    mode refuses to pick; seen under load, when a component's value set off a late rerun)."""
    field = page.get_by_role("spinbutton", name=label)
    for _ in range(5):
        wait_until_idle(page)
        try:
            if not field.is_visible():
                main(page).get_by_role("button", name="Parameters").click(timeout=5_000)
            field.fill(str(value), timeout=5_000)
            field.press("Enter", timeout=5_000)
        except PlaywrightError:  # its TimeoutError too
            continue
        wait_until_idle(page)
        if field.is_visible() and field.input_value() == str(value):
            page.keyboard.press("Escape")
            return
    raise AssertionError(f"could not set {label.lower()} to {value}")


def send(page: Page, prompt: str) -> None:
    """Type `prompt` in the chat box and send it, once the app shows it; sent again if it does not
    within 20 s: a rerun that a component sets off at that moment can swallow a submit."""
    box = page.get_by_test_id("stChatInputTextArea")
    asked = main(page).get_by_test_id("stChatMessage").filter(has_text=prompt)
    before = asked.count()
    for _ in range(3):
        box.fill(prompt)
        box.press("Enter")
        try:
            sample(lambda: None, every_s=0.2, until=lambda: asked.count() > before, timeout_s=20)
            return
        except AssertionError:
            wait_until_idle(page)
    raise AssertionError(f"the app never showed the message {prompt!r}, sent three times")


def click_until(page: Page, button: Locator, done: Callable[[], bool], *, timeout_s: float = 15) -> None:
    """Click `button` (an idempotent one, such as Stop) until `done()` holds, up to three times,
    `timeout_s` each: a second click, rather than a failure for a click that may have landed on
    an element's old copy. (The Stop that once "changed nothing within 15 s" was no lost click:
    the Parameters popover had set temperature 0, so pane B's answer was a fixed 18 tokens that
    ended by itself as the Stop came; widgets/model_settings.py says why, issue 18.17.)"""
    for _ in range(3):
        with contextlib.suppress(PlaywrightError):  # its TimeoutError too
            button.first.click(timeout=5_000)
        try:
            sample(lambda: None, every_s=0.1, until=done, timeout_s=timeout_s)
            return
        except AssertionError:
            wait_until_idle(page)
    raise AssertionError(f"three clicks on {button} did not do it")


def go_to(page: Page, title: str) -> None:
    """Sidebar → the page `title`, until the app is there (its link is the current page): a rerun
    that a component sets off at the same moment can take the app back to the page it was on."""
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=title)
    for _ in range(5):
        link.click()
        wait_until_idle(page)
        if link.get_attribute("aria-current") == "page":
            return
    raise AssertionError(f"five clicks on {title!r} in the sidebar did not open that page")


def wait_until_idle(page: Page, timeout_s: float = 60) -> None:
    """Until the page script has stopped running and stays stopped for a moment: a widget's
    value can set off a rerun just after a run ends (the sign-in's cookie component does)."""
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        state = page.get_by_test_id("stApp").get_attribute("data-test-script-state")
        if state == "notRunning":
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 0.4:
                return
        else:
            quiet_since = None
        time.sleep(0.05)
    raise AssertionError(f"the page was still running after {timeout_s} s")


def gone(page: Page, css: str, timeout_s: float = 60) -> None:
    """Until nothing matches `css` (Streamlit may briefly show an old and a new copy of a block)."""
    deadline = time.monotonic() + timeout_s
    while page.locator(css).count():
        if time.monotonic() > deadline:
            raise AssertionError(f"{css} still shown after {timeout_s} s")
        time.sleep(0.1)


def text_now(page: Page, css: str, index: int = 0) -> str | None:
    """The text of the index-th element matching `css` right now, or None: never waits, so a
    sample taken as the element goes away does not hang."""
    return page.evaluate(
        "([css, index]) => { const found = document.querySelectorAll(css)[index]; return found ? found.innerText : null; }",
        [css, index],
    )
