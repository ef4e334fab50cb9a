from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from tests.servers import ROOT
from tests.streamlit_app.stack import PASSWORD, UiStack, ui_stack

APP = ROOT / "streamlit_app" / "streamlit_app.py"
#: Answers come from the real local models: allow them time on a busy 2-core machine.
RUN_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def stack(model_server_url: str, postgres_server_url: str, tmp_path_factory, request) -> Iterator[UiStack]:
    """The real chat API (and model server, Postgres) with a fresh users file and a database of
    the module's own (the leaderboard counts everyone's votes); the app finds them through its
    environment, which AppTest shares with the tests."""
    folder = tmp_path_factory.mktemp("ui")
    database = "ui_" + request.module.__name__.rsplit(".", 1)[-1]
    with (
        ui_stack(model_server_url, postgres_server_url, folder, database) as running,
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, value in running.env().items():
            patch.setenv(name, value)
        yield running


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S)


def sign_in(app: AppTest, user: str, password: str = PASSWORD) -> AppTest:
    """Fill in and send the sign-in form, as a person would."""
    app.run()
    app.text_input[0].input(user)
    app.text_input[1].input(password)
    next(button for button in app.button if button.label == "Sign in").click()
    return app.run()


@pytest.fixture
def signed_in(stack: UiStack, request) -> AppTest:
    """The app, signed in as a user of its own (so tests do not see each other's history)."""
    readable = re.sub(r"[^a-z0-9_]+", "-", request.node.name.lower())[:48].strip("-")
    user = stack.add_user(f"{readable}-{zlib.crc32(request.node.nodeid.encode()):08x}")
    return sign_in(new_app(), user)
