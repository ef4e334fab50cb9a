"""Browser tests: Debian's Chromium, driven by Playwright, against the real local stack (model
server, Postgres, chat API) and the real web app, started on a free port of 127.0.0.1.

Screenshots of every step go to test-artifacts/browser/<test>/ (git-ignored).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, Playwright, expect, sync_playwright

from chatbot.api.users import UsersFile
from chatbot.models.catalog import ModelCatalog
from chatbot.models.endpoints import SageMakerEndpoint
from launcher import stack as local_stack
from streamlit_app.settings import UiSettings
from tests.browser.support import wait_until_idle
from tests.sampling import runs_to, seed_where, warm_up
from tests.servers import ROOT, free_port, running_server
from tests.streamlit_app.stack import PASSWORD, UiStack, ui_stack
from tests.waiting import eventually

CHROMIUM = Path("/usr/bin/chromium")
#: What the tests that need a long answer ask, with `essay_seed` in the Parameters.
ESSAY = "Write a very long essay about the history of the sea, with many chapters."
ARTIFACTS = ROOT / "test-artifacts" / "browser"
USER = "tester"
#: docs/REFERENCE.md: how Debian's Chromium runs here, headless, quiet, with a fresh profile per test.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]

# Answers come from real models on a busy machine: wait for them longer than Playwright's 5 s.
expect.set_options(timeout=30_000)

if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is missing: `make chromium` installs it", allow_module_level=True)


@pytest.fixture(scope="session")
def stack(model_server_url: str, postgres_server_url: str, tmp_path_factory) -> Iterator[UiStack]:
    with ui_stack(
        model_server_url, postgres_server_url, tmp_path_factory.mktemp("browser"), "ui_browser"
    ) as running:
        running.add_user(USER)
        yield running


@pytest.fixture(scope="session")
def essay_seed(catalog: ModelCatalog, runtime_client) -> int:
    """A seed whose answer to ESSAY, at the app's default temperature and top-p, is long from both
    local models: past 400 tokens from SmolLM2 (the chat's model, Compare's pane A, which must
    write on through B's Stop and the checks after it), past 150 from Gemma (pane B, which ends
    most draws within 50). Proven on this build (tests/sampling.py), so a Stop always lands
    mid-answer and both panes are still writing when it does."""
    app_defaults = catalog.get("smollm2-135m").default_parameters  # the first model's, as the app takes
    parameters = {"temperature": app_defaults.temperature, "top_p": app_defaults.top_p}
    smollm2, gemma = (
        SageMakerEndpoint(catalog.get(name), runtime_client) for name in ("smollm2-135m", "gemma3-270m")
    )
    for endpoint in (smollm2, gemma):
        warm_up(endpoint, ESSAY, parameters)
    return seed_where(
        lambda seed: (
            runs_to(gemma, ESSAY, 150, parameters, seed) and runs_to(smollm2, ESSAY, 400, parameters, seed)
        ),
        f"an answer to {ESSAY!r} of 150+ tokens from Gemma and 400+ from SmolLM2",
        seeds=range(1, 401),  # about one seed in ten has it
    )


@contextmanager
def web_app(stack: UiStack) -> Iterator[str]:
    """The web app as `make chat` runs it (streamlit_app.serve) against `stack`: its URL."""
    app = local_stack.web_app("127.0.0.1", free_port(), UiSettings())
    with running_server(app.args, app.health_url, env=stack.env()):
        yield app.url


@pytest.fixture(scope="session")
def app_url(stack: UiStack) -> Iterator[str]:
    with web_app(stack) as url:
        yield url


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    # Package scope: Playwright's sync API keeps an event loop running on the main thread until it
    # stops, and every later test that calls asyncio.run() would fail while it runs.
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session", autouse=True)
def fresh_artifacts() -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)


@contextmanager
def browser_tab(playwright: Playwright, app_url: str, shots: Path) -> Iterator[Page]:
    """A new browser with a profile of its own (no cookies, no saved theme), 1400x900: its tab."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1400, "height": 900},
        base_url=app_url,
    )
    try:
        tab = context.pages[0] if context.pages else context.new_page()
        tab.set_default_timeout(30_000)
        tab.shots = Shots(shots)  # type: ignore[attr-defined]
        yield tab
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


def _shots_folder(request) -> Path:
    return ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)


@pytest.fixture
def page(playwright: Playwright, app_url: str, request) -> Iterator[Page]:
    with browser_tab(playwright, app_url, _shots_folder(request)) as tab:
        yield tab
        if getattr(request.node, "failed", False):
            tab.shots.take(tab, "failure")  # type: ignore[attr-defined]


@pytest.fixture
def other_browser(playwright: Playwright, app_url: str, request) -> Iterator[Page]:
    """A second browser, as on another computer."""
    with browser_tab(playwright, app_url, _shots_folder(request) / "other-browser") as tab:
        yield tab


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.failed = True
    return report


class Shots:
    """Numbered screenshots of one test's steps."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    def take(self, page: Page, step: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=path, full_page=True)
        return path


def shot(page: Page, step: str) -> Path:
    return page.shots.take(page, step)  # type: ignore[attr-defined]


def sign_in(page: Page, user: str = USER, password: str = PASSWORD) -> None:
    page.goto("/")
    wait_until_idle(page)  # typing before the page is ready would be lost
    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def signed_in(page: Page, stack: UiStack) -> Page:
    """Signed in, and settled: once the browser has the remember-me cookie, its component reports
    so and sets off one more rerun. Waited for here, that rerun cannot land in a test's first
    steps (under load it showed a button's old copy beside its new one)."""
    sign_in(page)
    page.get_by_text(f"Signed in as {USER}").wait_for()
    cookie = UsersFile(stack.users_file).cookie_name()
    eventually(lambda: {held["name"] for held in page.context.cookies()}, lambda names: cookie in names)
    wait_until_idle(page)
    return page
