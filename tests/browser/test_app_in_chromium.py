"""The web app in a real browser against the real local stack, as a person uses it.

Each step leaves a screenshot in test-artifacts/browser/<test>/.
"""

from __future__ import annotations

import contextlib
import re

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Route, expect

from chatbot.api.users import UsersFile
from tests.browser.conftest import ESSAY, PASSWORD, USER, shot, sign_in
from tests.browser.support import (
    click_until,
    go_to,
    gone,
    main,
    send,
    set_max_tokens,
    set_seed,
    text_now,
    wait_until_idle,
)
from tests.streamlit_app.stack import UiStack
from tests.waiting import eventually, sample

CURSOR = "▌"
STOPPED = re.compile(r"\d+ tokens · stopped")
DARK_BACKGROUND = "rgb(15, 23, 42)"  # .streamlit/config.toml [theme.dark] backgroundColor
LIGHT_BACKGROUND = "rgb(255, 255, 255)"


def test_signing_in_refuses_a_wrong_password_opens_the_chat_and_logging_out_sticks(page: Page):
    sign_in(page, password="not the password")
    expect(page.get_by_text("Wrong user name or password. Try again.")).to_be_visible()
    shot(page, "wrong-password")
    sign_in(page)
    expect(page.get_by_text(f"Signed in as {USER}")).to_be_visible()
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_visible()
    shot(page, "signed-in")
    wait_until_idle(page)
    page.reload()  # the "remember me" cookie keeps a reload signed in
    expect(page.get_by_text(f"Signed in as {USER}")).to_be_visible()
    wait_until_idle(page)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    wait_until_idle(page)
    page.reload()  # and once signed out, a reload does not sign back in
    wait_until_idle(page)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text(f"Signed in as {USER}")).to_have_count(0)
    shot(page, "signed-out")


def test_remember_me_is_kept_when_the_app_reruns_before_the_browser_has_loaded_the_cookie_component(
    page: Page, stack: UiStack
):
    # The cookie is set by the server, for a request the page makes after the sign-in run. A
    # rerun before the browser made it (a component's first value sets one off; here, a click on
    # another page) used to take it off the page, and the cookie was never set. That request and
    # component frames are held back here until after that rerun.
    page.goto("/")
    wait_until_idle(page)
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route("**/component/**", hold)
    page.route("**/_chatbot/cookie/**", hold)
    page.get_by_role("textbox", name="User name").fill(USER)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {USER}")).to_be_visible()
    go_to(page, "Settings")
    assert held, "the app drew no component after signing in"
    page.unroute("**/component/**")
    page.unroute("**/_chatbot/cookie/**")
    for route in held:
        with contextlib.suppress(PlaywrightError):  # the frame that asked for it is gone
            route.continue_()
    cookie_name = UsersFile(stack.users_file).cookie_name()
    eventually(
        lambda: {cookie["name"] for cookie in page.context.cookies()}, lambda names: cookie_name in names
    )
    wait_until_idle(page)
    page.reload()
    expect(page.get_by_text(f"Signed in as {USER}")).to_be_visible()
    shot(page, "signed-in-after-reload")


def test_the_remember_me_cookie_is_out_of_scripts_reach_and_goes_at_log_out(signed_in: Page, stack: UiStack):
    # The web server sets it (streamlit_app/cookies.py), so it can be HttpOnly: a script that got
    # onto the page could otherwise read it and sign in as this user for a week.
    page = signed_in
    name = UsersFile(stack.users_file).cookie_name()
    cookie = next(held for held in page.context.cookies() if held["name"] == name)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain http://127.0.0.1; over HTTPS it is Secure (test_cookies.py)
    assert name not in page.evaluate("document.cookie")
    page.reload()  # and it still signs in
    expect(page.get_by_text(f"Signed in as {USER}")).to_be_visible()
    wait_until_idle(page)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    eventually(lambda: {held["name"] for held in page.context.cookies()}, lambda names: name not in names)


def test_logging_out_ends_remember_me_in_every_browser_at_once(
    page: Page, other_browser: Page, stack: UiStack, app_url: str
):
    # The browser deletes its cookie only when the sign-out page has run there, and another
    # browser keeps its copy: the app itself must refuse a cookie made before the sign-out.
    # The other browser holds a remember-me cookie made as the app makes them.
    made = UsersFile(stack.users_file).remember_me(USER)
    other_browser.context.add_cookies([{"name": made.name, "value": made.value, "url": app_url}])
    other_browser.goto("/")
    expect(other_browser.get_by_text(f"Signed in as {USER}")).to_be_visible()  # the cookie signs in
    wait_until_idle(other_browser)

    sign_in(page)
    expect(page.get_by_text(f"Signed in as {USER}")).to_be_visible()
    wait_until_idle(page)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    other_browser.reload()
    wait_until_idle(other_browser)
    expect(other_browser.get_by_role("button", name="Sign in")).to_be_visible()
    expect(other_browser.get_by_text(f"Signed in as {USER}")).to_have_count(0)
    shot(other_browser, "other-browser-signed-out")


def test_a_streamed_answer_grows_token_by_token(signed_in: Page, essay_seed: int):
    page = signed_in
    set_max_tokens(page, 192)
    set_seed(page, essay_seed)  # a draw that runs to the 192 tokens: seconds of streaming to sample
    send(page, ESSAY)
    live = page.locator(".st-key-chat_live")
    live.first.wait_for()
    answer_css = '.st-key-chat_live [data-testid="stMarkdown"]'  # the answer; its figures come after it

    def length() -> int | None:
        text = text_now(page, answer_css)
        return None if text is None else len(text)

    lengths = sample(length, every_s=0.15, until=lambda: live.count() == 0, timeout_s=60)
    growing = [length for length in lengths if length is not None]
    # Not strictly rising: markdown may fold a "**" into bold as the next token arrives.
    assert len(set(growing)) >= 3, f"the answer did not grow in steps: {lengths}"
    assert growing[-1] > growing[0] + 20
    answer = page.get_by_test_id("stChatMessage").last
    expect(answer.get_by_text(re.compile(r"TTFT \d+\.\d\d s · [\d.]+ tokens/s · \d+ tokens"))).to_be_visible()
    shot(page, "answered")


def test_stop_ends_a_long_answer_within_moments(signed_in: Page, essay_seed: int):
    page = signed_in
    set_max_tokens(page, 1000)
    set_seed(page, essay_seed)  # a draw proven to run past 400 tokens: Stop lands mid-answer
    live = page.locator(".st-key-chat_live")
    send(page, ESSAY)
    live.first.wait_for(timeout=30_000)  # the answer has started
    sample(
        lambda: None,
        every_s=0.2,
        until=lambda: len(text_now(page, ".st-key-chat_live") or "") > 80,
        timeout_s=30,
    )
    shot(page, "before-stop")
    click_until(page, live.first.get_by_role("button", name="Stop"), lambda: not live.count())
    answer = page.get_by_test_id("stChatMessage").last
    figures = answer.get_by_text(re.compile(r"(\d+) tokens · stopped"))
    expect(figures).to_be_visible()
    tokens = int(re.search(r"(\d+) tokens · stopped", figures.inner_text()).group(1))
    assert tokens < 500, f"{tokens} tokens: the model went on long after Stop"
    shot(page, "stopped")


def test_compare_streams_both_models_at_the_same_time(signed_in: Page, essay_seed: int):
    page = signed_in
    go_to(page, "Compare")
    set_max_tokens(page, 96)
    set_seed(page, essay_seed)  # both models write on to the 96 tokens
    shot(page, "compare-set-up")
    send(page, ESSAY)
    pane_a = page.locator(".st-key-cmp_live_a")
    pane_a.first.wait_for()

    def read() -> tuple[int, int, bool]:
        """Both answers' lengths, and whether both are still streaming (their cursor is there).
        In each pane the answer is the second markdown, after the header."""
        a = text_now(page, '.st-key-cmp_live_a [data-testid="stMarkdown"]', 1) or ""
        b = text_now(page, '.st-key-cmp_live_b [data-testid="stMarkdown"]', 1) or ""
        return len(a), len(b), CURSOR in a and CURSOR in b

    # Panes answered one after the other would never both show text while both are still
    # streaming. Sample often: the window is a few seconds.
    samples = sample(read, every_s=0.02, until=lambda: read()[2] and min(read()[:2]) > 1, timeout_s=30)
    shot(page, "both-panes-streaming")
    samples += sample(read, every_s=0.05, until=lambda: not read()[2], timeout_s=60)
    together = [(a, b) for a, b, streaming in samples if streaming and a > 1 and b > 1]
    assert together, f"the panes never streamed at the same time: {samples}"
    first_with_text = next(i for i, (a, b, _) in enumerate(samples) if a > 1 or b > 1)
    assert samples[first_with_text][2], "one pane had finished before the other started"
    shot(page, "one-pane-finished")
    gone(page, ".st-key-cmp_live_a")
    expect(main(page).get_by_role("button", name="A is better")).to_be_visible()
    shot(page, "compare-finished")


def test_an_arena_vote_reveals_the_models_and_moves_the_leaderboard(signed_in: Page):
    page = signed_in
    go_to(page, "Leaderboard")
    before = int(page.get_by_test_id("stMetricValue").first.inner_text())
    shot(page, "leaderboard-before")
    go_to(page, "Compare")
    main(page).get_by_text("Arena: random models, hidden until you vote").click()
    wait_until_idle(page)
    set_max_tokens(page, 16)
    send(page, "Say something kind.")
    vote = main(page).get_by_role("button", name="A is better")
    vote.wait_for(timeout=60_000)
    expect(page.locator(".st-key-cmp_round_0_a")).to_contain_text("Model A")
    expect(page.locator(".st-key-cmp_round_0_a")).not_to_contain_text("smollm2")
    expect(page.locator(".st-key-cmp_round_0_a")).not_to_contain_text("gemma3")
    shot(page, "arena-before-vote")
    vote.click()
    expect(main(page).get_by_text("Your vote: A is better")).to_be_visible()
    expect(page.locator(".st-key-cmp_round_0_a")).to_contain_text(re.compile("smollm2-135m|gemma3-270m"))
    shot(page, "arena-revealed")
    go_to(page, "Leaderboard")
    # The chat API refits after a vote and answers with the last fit if this one takes long (a
    # busy machine): Refresh until the page has this vote.
    votes = page.get_by_test_id("stMetricValue").first

    def refresh() -> str:
        main(page).get_by_role("button", name="Refresh").click()
        wait_until_idle(page)
        return votes.inner_text()

    sample(refresh, every_s=0.5, until=lambda: votes.inner_text() == str(before + 1), timeout_s=30)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    expect(
        main(page).get_by_text("The cheapest model whose interval overlaps the top model's")
    ).to_be_visible()
    # Rating against cost and against speed, each with its Pareto front; then the win rates.
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(3)
    shot(page, "leaderboard-after")
    page.get_by_test_id("stVegaLiteChart").nth(1).scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # let Vega finish drawing before the picture
    shot(page, "leaderboard-pareto")


def test_the_dark_theme_is_one_click_away_on_every_page(signed_in: Page):
    page = signed_in
    app = page.get_by_test_id("stApp")
    expect(app).to_have_css("background-color", LIGHT_BACKGROUND)
    for title in ("Chat", "Compare", "Leaderboard"):
        go_to(page, title)
        shot(page, f"{title.lower()}-light")
    page.get_by_test_id("stMainMenu").click()
    page.get_by_role("menuitemradio", name="Dark").click()
    expect(app).to_have_css("background-color", DARK_BACKGROUND)
    page.keyboard.press("Escape")
    for title in ("Chat", "Compare", "Leaderboard"):
        go_to(page, title)
        expect(app).to_have_css("background-color", DARK_BACKGROUND)
        shot(page, f"{title.lower()}-dark")


def test_html_in_messages_is_shown_as_text_and_never_runs(signed_in: Page):
    page = signed_in
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    set_max_tokens(page, 24)
    attack = '<img src=x onerror="window.__xss=1;alert(1)"> <script>window.__xss=2;alert(2)</script>'
    send(page, f"Repeat exactly: {attack}")
    gone(page, ".st-key-chat_live")
    wait_until_idle(page)
    question = page.get_by_test_id("stChatMessage").first
    expect(question).to_contain_text('<img src=x onerror="window.__xss=1;alert(1)">')
    expect(question).to_contain_text("<script>window.__xss=2;alert(2)</script>")
    shot(page, "html-as-text")
    # Read back from the history too: the same text through the other path.
    page.get_by_test_id("stSidebar").get_by_role("button", name=re.compile("^Repeat exactly")).first.click()
    wait_until_idle(page)
    expect(page.get_by_test_id("stChatMessage").first).to_contain_text(
        "<script>window.__xss=2;alert(2)</script>"
    )
    assert page.evaluate("window.__xss") is None
    assert main(page).locator('img[src="x"]').count() == 0
    assert main(page).locator("script").count() == 0
    assert dialogs == []
    shot(page, "html-from-history")


def test_a_panes_stop_stops_that_pane_only_and_stop_all_stops_every_pane(signed_in: Page, essay_seed: int):
    # Both models' draws are long (essay_seed), so both panes are still writing when a Stop is
    # pressed: B's Stop must end B and leave A writing; A's own Stop then ends A; and in a new
    # comparison, Stop all ends both.
    page = signed_in
    go_to(page, "Compare")
    set_max_tokens(page, 800)
    set_seed(page, essay_seed)
    text_a, text_b = (f'.st-key-cmp_live_{lane} [data-testid="stMarkdown"]' for lane in "ab")

    def both_writing() -> bool:
        answers = [text_now(page, css, 1) or "" for css in (text_a, text_b)]
        return all(CURSOR in answer and len(answer) > 40 for answer in answers)

    send(page, ESSAY)
    sample(lambda: None, every_s=0.1, until=both_writing, timeout_s=60)
    # .first: while the turn runs, Streamlit may show the pane's old copy under its new one.
    pane_b = page.locator(".st-key-cmp_live_b").first
    click_until(page, pane_b.get_by_role("button", name="Stop"), lambda: STOPPED.search(pane_b.inner_text()))
    before = text_now(page, text_a, 1) or ""
    # Pane A writes on: its answer grows past what it was at B's Stop.
    sample(
        lambda: len(text_now(page, text_a, 1) or ""),
        every_s=0.1,
        until=lambda: len(text_now(page, text_a, 1) or "") > len(before),
        timeout_s=10,
    )
    assert CURSOR in (text_now(page, text_a, 1) or ""), "pane B's Stop stopped pane A"

    live_a = page.locator(".st-key-cmp_live_a")
    click_until(page, live_a.first.get_by_role("button", name="Stop"), lambda: not live_a.count())
    for lane in "ab":
        expect(page.locator(f".st-key-cmp_round_0_{lane}")).to_contain_text(
            re.compile(r"\d+ tokens · stopped")
        )
    shot(page, "a-stopped")

    main(page).get_by_role("button", name="New comparison").click()
    wait_until_idle(page)
    send(page, ESSAY)  # the same seed (the Parameters keep it), so the same long draws
    sample(lambda: None, every_s=0.1, until=both_writing, timeout_s=60)
    click_until(page, main(page).get_by_role("button", name="Stop all"), lambda: not live_a.count())
    for lane in "ab":
        expect(page.locator(f".st-key-cmp_round_0_{lane}")).to_contain_text(
            re.compile(r"\d+ tokens · stopped")
        )
    expect(main(page).get_by_role("button", name="A is better")).to_be_visible()
    shot(page, "all-stopped")
