"""The chat page with a scale-to-zero model that has no copy running (issue 19): the API's 503
model_warming_up shows as a warning that says the model is warming up and for about how long,
not as an error; nothing was saved, and the same message sent again is answered once it is up.
The real chat API and local model, behind the local stand-in for SageMaker's cold start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lambdas.chat_api.test_warm_up import scale_to_zero_catalog
from tests.streamlit_app.conftest import new_app, sign_in
from tests.streamlit_app.stack import UiStack, ui_stack
from tests.streamlit_app.test_chat_page import bubbles, send


@pytest.fixture(scope="module")
def cold_stack(model_server_url: str, postgres_server_url: str, tmp_path_factory) -> Iterator[UiStack]:
    folder = tmp_path_factory.mktemp("ui-cold")
    with (
        ui_stack(
            model_server_url,
            postgres_server_url,
            folder,
            "ui_warming_up",
            CHATBOT_MODELS_FILE=str(scale_to_zero_catalog(folder)),
            CHATBOT_LOCAL_WARM_UP_S="0",  # up at the retry after the refusal that starts it
        ) as running,
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, value in running.env().items():
            patch.setenv(name, value)
        yield running


def test_a_cold_model_shows_as_warming_up_and_the_retry_is_answered(cold_stack: UiStack):
    app = sign_in(new_app(), cold_stack.add_user("wendy"))
    app = send(app, "Name a colour.")
    assert not app.exception
    warnings = [str(w.value) for message in app.chat_message for w in message.warning]
    assert len(warnings) == 1, bubbles(app)
    assert "warming up" in warnings[0]
    assert "about 5 minutes" in warnings[0]
    assert [error for message in app.chat_message for error in message.error] == []
    app = send(app, "Name a colour.")  # the model is up now
    role, text = bubbles(app)[-1]
    assert role == "assistant"
    assert text.strip()
