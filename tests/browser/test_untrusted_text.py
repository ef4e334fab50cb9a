"""In Chromium: a conversation someone handed over (its title, model name and answers written to
attack) is drawn as text. The browser fetches nothing from the attacker's host, no image comes
from anywhere but the app, and no link's text hides where it goes."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Page, Request, Route, expect

from streamlit_app.formatting import WORD_JOINER
from tests.browser.conftest import USER, shot
from tests.browser.support import main, wait_until_idle
from tests.streamlit_app.stack import UiStack
from tests.streamlit_app.test_untrusted_text import EVIL, hostile_comparison, token_for

EVIL_HOST = urlsplit(EVIL).netloc


def drawn_from_elsewhere(page: Page, app_url: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The images whose source is not the app, and the links to elsewhere whose text does not
    show their host."""
    images = page.eval_on_selector_all("img", "found => found.map(image => image.src)")
    links = page.eval_on_selector_all("a[href]", "found => found.map(link => [link.innerText, link.href])")
    foreign_images = [src for src in images if not src.startswith((app_url, "data:"))]
    hiding = [
        (text, href)
        for text, href in links
        if not href.startswith(app_url) and urlsplit(href).netloc not in text.replace(WORD_JOINER, "")
    ]
    return foreign_images, hiding


def test_a_handed_over_conversation_loads_nothing_and_hides_no_link(
    signed_in: Page, stack: UiStack, app_url: str
):
    page = signed_in
    asked: list[str] = []
    page.context.on("request", lambda request: asked.append(request.url))

    def refuse(route: Route, request: Request) -> None:
        asked.append(request.url)
        route.abort()

    page.context.route(re.compile(rf"https?://{re.escape(EVIL_HOST)}/.*"), refuse)
    imported = httpx.post(
        f"{stack.api_url}/sessions/import",
        content=hostile_comparison(USER),
        headers={"Authorization": f"Bearer {token_for(stack, USER)}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert imported.status_code == 200, imported.text
    page.reload()  # the history reads the imported conversation
    wait_until_idle(page)
    page.get_by_test_id("stSidebar").get_by_role("button", name=re.compile("pixel")).first.click()
    answer = main(page).get_by_text(re.compile("^Sure"))
    expect(answer).to_be_visible()
    wait_until_idle(page)
    shot(page, "handed-over-conversation")

    assert [url for url in asked if EVIL_HOST in url] == []
    foreign_images, hiding = drawn_from_elsewhere(page, app_url)
    assert foreign_images == []
    assert hiding == []
    # The attacker's markup shows as the text it is.
    expect(main(page).get_by_text(re.compile(r"\[image: chart\]"))).to_be_visible()
    expect(main(page).get_by_text(re.compile(r"Model A · !\[pixel\]"))).to_be_visible()
