"""Attached files on the chat page (issue 23): chips under the question, names escaped. Driven
through AppTest against the real chat API and local models (AppTest cannot pick a file, so the
file is attached through the API as the user, and the page opens the conversation)."""

from __future__ import annotations

import httpx

from chatbot.api.local_tokens import local_secret
from lambdas.chat_api.auth import LocalTokens
from tests.streamlit_app.conftest import new_app, sign_in
from tests.streamlit_app.stack import UiStack

HOSTILE = "**bold** [link](javascript:alert(1)) <b>x.txt"  # no "/": a path keeps its last part


def test_a_questions_files_show_as_chips_with_their_names_escaped(stack: UiStack):
    user = stack.add_user("attachment-chips")
    token = LocalTokens(local_secret(stack.secret_file)).issue(user)
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as api:
        uploaded = api.post("/attachments", files={"file": (HOSTILE, b"The code word is HELIOTROPE.")})
        assert uploaded.status_code == 201, uploaded.text
        chat = {
            "model": "smollm2-135m",
            "message": "What is the code word?",
            "attachments": [uploaded.json()["id"]],
            "parameters": {"max_new_tokens": 4, "temperature": 0},
        }
        assert api.post("/chat", json=chat).status_code == 200

    app = sign_in(new_app(), user)
    [opened] = [button for button in app.sidebar.button if button.key.startswith("hist_open_")]
    app = opened.click().run()
    assert not app.exception
    question = app.chat_message[0]
    chips = [
        str(badge.proto.body) for badge in question.get("markdown") if "attach_file" in str(badge.proto.body)
    ]
    assert len(chips) == 1
    chip = chips[0]
    assert "\\*\\*bold\\*\\*" in chip, "markdown in a file's name shows as text"
    assert "](" not in chip
    assert "<b>" not in chip
