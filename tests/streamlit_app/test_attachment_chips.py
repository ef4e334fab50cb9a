"""Attached files on the chat page (issue 23): chips under the question, names escaped, and kept
by a regenerated question. Driven through AppTest against the real chat API and local models
(AppTest cannot pick a file, so the file is attached through the API as the user, and the page
opens the conversation; tests/browser/test_attachments.py picks one in a real browser)."""

from __future__ import annotations

import httpx

from chatbot.api.local_tokens import local_secret
from lambdas.chat_api.auth import LocalTokens
from tests.streamlit_app.conftest import new_app, sign_in
from tests.streamlit_app.stack import UiStack

HOSTILE = "**bold** [link](javascript:alert(1)) <b>x.txt"  # no "/": a path keeps its last part


def api_for(stack: UiStack, user: str) -> httpx.Client:
    token = LocalTokens(local_secret(stack.secret_file)).issue(user)
    return httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def opened_chat_with_a_file(stack: UiStack, user: str, name: str):
    """A chat whose question has a file attached (through the API), opened on the chat page."""
    with api_for(stack, user) as api:
        uploaded = api.post("/attachments", files={"file": (name, b"The code word is HELIOTROPE.")})
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
    return opened.click().run(), uploaded.json()


def test_a_questions_files_show_as_chips_with_their_names_escaped(stack: UiStack):
    app, _ = opened_chat_with_a_file(stack, stack.add_user("attachment-chips"), HOSTILE)
    assert not app.exception
    question = app.chat_message[0]
    chips = [str(md.proto.body) for md in question.get("markdown") if "attach_file" in str(md.proto.body)]
    assert len(chips) == 1
    chip = chips[0]
    assert "\\*\\*bold\\*\\*" in chip, "markdown in a file's name shows as text"
    assert "](" not in chip
    assert "<b>" not in chip


def test_a_regenerated_question_keeps_its_files(stack: UiStack):
    user = stack.add_user("attachment-regenerate")
    app, ref = opened_chat_with_a_file(stack, user, "plan.txt")
    app.number_input(key="chat_max_new_tokens").set_value(4)
    app = app.button(key="chat_regenerate").click().run()
    assert not app.exception
    with api_for(stack, user) as api:
        session_id = api.get("/sessions").json()["sessions"][0]["id"]
        messages = api.get(f"/sessions/{session_id}").json()["messages"]
    assert [m["attachments"] for m in messages if m["role"] == "user"] == [[ref], [ref]]
