"""The chat page, driven through AppTest against the real chat API and local models."""

from __future__ import annotations

import re

import httpx
import pytest

from chatbot.api.local_tokens import local_secret
from lambdas.chat_api.auth import LocalTokens
from tests.streamlit_app.markup import as_read

#: Short answers keep the suite quick; the browser tests cover long ones.
FEW_TOKENS = 8


def send(app, prompt: str, *, tokens: int = FEW_TOKENS):
    # Temperature 0: greedy decoding, whose short answers are never empty (tests/sampling.py).
    app.slider(key="chat_temperature").set_value(0.0)
    app.number_input(key="chat_max_new_tokens").set_value(tokens)
    app.chat_input(key="chat_prompt").set_value(prompt)
    return app.run()


def bubbles(app) -> list[tuple[str, str]]:
    """(role, text) of each chat message, in order."""
    shown = []
    for message in app.chat_message:
        text = " ".join(str(markdown.value) for markdown in message.markdown)
        shown.append((message.name, text))
    return shown


def figures(app) -> list[str]:
    """The figures line under each answer."""
    captions = [str(caption.value) for message in app.chat_message for caption in message.caption]
    return [caption for caption in captions if "TTFT" in caption]


def test_the_model_picker_offers_the_chat_apis_models(signed_in):
    assert signed_in.selectbox(key="chat_model").options == [
        "smollm2-135m",
        "gemma3-270m",
        "smollm2-135m-bedrock",
    ]


def test_max_new_tokens_is_bounded_by_the_models_limit(signed_in):
    tokens = signed_in.number_input(key="chat_max_new_tokens")
    assert (tokens.min, tokens.max) == (1, 1024)  # models.yaml: max_new_tokens_limit 1024
    assert tokens.value == 256  # the model's default
    assert signed_in.slider(key="chat_top_p").max == 1.0


def test_a_seed_gives_the_same_answer_again_and_none_is_set_at_first(signed_in):
    assert signed_in.number_input(key="chat_seed").value is None  # a new draw each time
    answers = []
    app = signed_in
    for _ in range(2):
        app.button(key="chat_new").click().run()
        app.slider(key="chat_temperature").set_value(1.0)  # sampled, not greedy
        app.number_input(key="chat_seed").set_value(1234)
        app.number_input(key="chat_max_new_tokens").set_value(24)
        app.chat_input(key="chat_prompt").set_value("Tell me about the sea.")
        app = app.run()
        assert not app.exception
        (line,) = figures(app)
        answers.append((bubbles(app)[1][1], re.search(r"(\d+) tokens(?!/)", line).group(1)))
    assert answers[0] == answers[1]  # the same words, and as many tokens


def test_a_streamed_answer_shows_its_text_and_its_figures(signed_in):
    app = send(signed_in, "Name a colour.")
    assert not app.exception
    roles = [role for role, _ in bubbles(app)]
    assert roles == ["user", "assistant"]
    assert bubbles(app)[0][1] == "Name a colour."
    assert bubbles(app)[1][1].strip()  # the model's own words
    (line,) = figures(app)
    assert "TTFT" in line
    assert "tokens/s" in line
    assert "tokens" in line


def test_standard_mode_answers_in_one_piece(signed_in):
    signed_in.toggle(key="chat_streaming").set_value(False)
    app = send(signed_in, "Name a fruit.")
    assert [role for role, _ in bubbles(app)] == ["user", "assistant"]
    assert bubbles(app)[1][1].strip()


def test_a_follow_up_continues_the_same_conversation(signed_in, stack):
    app = send(signed_in, "Name a colour.")
    first = app.session_state["chat_session_id"]
    app = send(app, "And another one?")
    assert app.session_state["chat_session_id"] == first
    assert [role for role, _ in bubbles(app)] == ["user", "assistant", "user", "assistant"]


def test_regenerate_asks_the_last_question_again_and_keeps_the_first_answer_beside_it(signed_in):
    app = send(signed_in, "Name an animal.")
    app.button(key="chat_regenerate").click().run()
    # The page shows the new version of the question (issue 23: a branch, ‹ 2/2 ›)...
    assert [role for role, _ in bubbles(app)] == ["user", "assistant"]
    assert bubbles(app)[0][1] == "Name an animal."
    # ...and the first answer stays in the conversation, in the branch beside it.
    first, answer = app.session_state["chat_tree"][:2]
    assert (first.content, answer.role, answer.reply_to) == ("Name an animal.", "assistant", first.seq)
    assert answer.content.strip()


def test_an_error_from_the_api_shows_in_the_answer_in_words(signed_in):
    # The stack's chat API accepts messages of up to 8000 characters (its default).
    app = send(signed_in, "word " * 2000)
    assert not app.exception
    assert [role for role, _ in bubbles(app)] == ["user", "assistant"]
    errors = [str(error.value) for message in app.chat_message for error in message.error]
    assert len(errors) == 1
    assert "8000" in errors[0]
    app = send(app, "Name a colour.")  # and the page keeps working
    assert bubbles(app)[-1][0] == "assistant"
    assert bubbles(app)[-1][1].strip()


def test_the_history_lists_conversations_newest_first_and_opens_one(signed_in):
    app = send(signed_in, "First question")
    app.button(key="chat_new").click().run()
    app = send(app, "Second question")
    titles = [button.label for button in app.sidebar.button if button.key.startswith("hist_open_")]
    assert titles == ["Second question", "First question"]
    first = next(button for button in app.sidebar.button if button.label == "First question")
    app = first.click().run()
    assert bubbles(app)[0] == ("user", "First question")
    assert len(bubbles(app)) == 2


def test_a_conversation_can_be_renamed_and_deleted(signed_in):
    app = send(signed_in, "Old title")
    app.sidebar.text_input(key=f"hist_title_{app.session_state['chat_session_id']}").input("New title")
    app = app.sidebar.button(key="hist_rename_save").click().run()
    assert [b.label for b in app.sidebar.button if b.key.startswith("hist_open_")] == ["New title"]
    app = app.sidebar.button(key="hist_delete").click().run()
    assert not [b for b in app.sidebar.button if b.key.startswith("hist_open_")]
    assert not bubbles(app)  # the page starts afresh


def test_deleting_everything_asks_for_confirmation_first(signed_in, stack):
    app = send(signed_in, "Keep me?")
    app = app.sidebar.button(key="hist_delete_all").click().run()
    assert "Delete every conversation, for good?" in [w.value for w in app.sidebar.warning]
    app = app.sidebar.button(key="hist_delete_all_no").click().run()
    assert [as_read(b.label) for b in app.sidebar.button if b.key.startswith("hist_open_")] == ["Keep me?"]
    app = app.sidebar.button(key="hist_delete_all").click().run()
    app = app.sidebar.button(key="hist_delete_all_yes").click().run()
    assert not [b for b in app.sidebar.button if b.key.startswith("hist_open_")]
    token = LocalTokens(local_secret(stack.secret_file)).issue(app.session_state["username"])
    listed = httpx.get(f"{stack.api_url}/sessions", headers={"Authorization": f"Bearer {token}"}).json()
    assert listed["sessions"] == []  # gone from the chat API too, not just from the page


@pytest.mark.parametrize(
    "reply", ["<script>window.pwned = 1</script>", '<img src=x onerror="window.pwned=1">']
)
def test_html_in_messages_is_shown_as_text_never_as_live_html(signed_in, reply):
    app = send(signed_in, reply)
    user_text = next(m for m in app.chat_message if m.name == "user").markdown[0]
    assert user_text.value == reply
    assert not user_text.allow_html  # st.markdown without unsafe_allow_html: the browser gets text
    assert all(not markdown.allow_html for message in app.chat_message for markdown in message.markdown)
