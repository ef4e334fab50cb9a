"""The web app's image holds all it runs: its file set, taken from the Dockerfile's COPY lines,
in a venv that holds only its requirements, imports every module and starts every page, signed
in either way (local users, and Cognito through st.login). Of the core library it holds only the
chat API's contract (chatbot/api/, whole) and the event schema."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest

from tests.servers import ROOT
from tests.streamlit_app.image import copied_files, lay_out_app_files, requirements_only_venv
from tests.streamlit_app.stack import PASSWORD, UiStack

CONTRACT = "chatbot.api"
EVENT_SCHEMA = "chatbot.models.events"
PAGES = sorted(path.name for path in (ROOT / "streamlit_app" / "app_pages").glob("*.py"))


def chatbot_imports(folder: Path) -> set[tuple[str, str]]:
    """(file, module) of every `chatbot` module the files under `folder` import."""
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            found |= {
                (path.relative_to(ROOT).as_posix(), name) for name in names if name.split(".")[0] == "chatbot"
            }
    return found


def is_contract_or_event_schema(module: str) -> bool:
    return module in (EVENT_SCHEMA, CONTRACT) or module.startswith(CONTRACT + ".")


def test_the_app_imports_from_the_core_library_only_the_contract_and_the_event_schema():
    strays = {
        (path, module)
        for path, module in chatbot_imports(ROOT / "streamlit_app")
        if not is_contract_or_event_schema(module)
    }
    assert strays == set()


def test_the_contract_imports_nothing_of_the_core_library_but_itself_and_the_event_schema():
    strays = {
        (path, module)
        for path, module in chatbot_imports(ROOT / "chatbot" / "api")
        if not is_contract_or_event_schema(module)
    }
    assert strays == set()


def test_the_image_copies_the_contract_whole_and_of_the_rest_of_the_core_only_the_event_schema():
    from_core = sorted(source for source, _ in copied_files() if source.startswith("chatbot/"))
    assert from_core == [
        "chatbot/__init__.py",
        "chatbot/api/",
        "chatbot/models/__init__.py",
        "chatbot/models/events.py",
    ]
    assert ("streamlit_app/", "streamlit_app/") in copied_files()  # the app, whole too


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> tuple[Path, Path]:
    """(the image's python, its WORKDIR) with nothing of the project but the copied files."""
    return requirements_only_venv(), lay_out_app_files(tmp_path_factory.mktemp("image-app"))


def run_in_image(
    image: tuple[Path, Path], args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess:
    python, workdir = image
    return subprocess.run(
        [str(python), *args],
        cwd=workdir,
        # Nothing of the test run's environment leaks in but what the app is meant to read.
        env={"PATH": "/usr/bin:/bin", "HOME": str(workdir), **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_in_the_image_every_module_of_the_app_imports(image):
    script = (
        "import importlib, pkgutil, streamlit_app\n"
        "for module in pkgutil.walk_packages(streamlit_app.__path__, 'streamlit_app.'):\n"
        "    if '.app_pages' not in module.name and module.name != 'streamlit_app.streamlit_app':\n"
        "        importlib.import_module(module.name)\n"
    )
    result = run_in_image(image, ["-c", script], {})
    assert result.returncode == 0, result.stderr[-3000:]


def boot_every_page(image, stack: UiStack, mode: str, *args: str) -> dict:
    boot = Path(__file__).with_name("boot_pages.py")
    env = {**stack.env(), "CHATBOT_UI_AUTH": mode}
    # -P: the script's own folder (tests/) stays off sys.path; the app puts its WORKDIR first.
    result = run_in_image(image, ["-P", str(boot), mode, *args], env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_every_page_started(report: dict) -> None:
    assert report["sign_in_exceptions"] == []
    assert sorted(report["pages"]) == PAGES
    failed = {page: shown["exceptions"] for page, shown in report["pages"].items() if shown["exceptions"]}
    assert failed == {}


def test_in_the_image_every_page_starts_for_a_user_signed_in_locally(image, stack: UiStack):
    stack.add_user("image-admin")  # the first account: an administrator, so the Users page is theirs
    report = boot_every_page(image, stack, "local", "image-admin", PASSWORD)
    assert_every_page_started(report)
    assert all(shown["offered"] for shown in report["pages"].values())
    drawn = [tuple(shown["drawn"]) for shown in report["pages"].values()]
    assert len(set(drawn)) == len(PAGES), "each page drew its own content (the switch took)"


def test_in_the_image_every_page_starts_for_a_user_signed_in_with_cognito(image, stack: UiStack):
    # The local chat API refuses the Cognito token: every page says so in words, none fails.
    report = boot_every_page(image, stack, "oidc")
    assert_every_page_started(report)
    offered = sorted(page for page, shown in report["pages"].items() if shown["offered"])
    assert offered == [page for page in PAGES if page != "users.py"]  # the user pool holds the accounts
