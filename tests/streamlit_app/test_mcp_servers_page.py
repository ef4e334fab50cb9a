"""The MCP servers page (administrators only): it says whom a credential acts for, registers a
real MCP calculator, lists its tools as plain text, and removes it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatbot.api.users import UsersFile
from tests.chatbot.tools.mcp_calculator import running_calculator
from tests.streamlit_app.conftest import new_app, sign_in
from tests.streamlit_app.stack import PASSWORD, UiStack


@pytest.fixture(scope="module")
def calculator_url() -> Iterator[str]:
    with running_calculator() as url:
        yield url


def open_page(stack: UiStack):
    users = UsersFile(stack.users_file)
    if not users.names():
        users.create_first("ada", PASSWORD)
    app = sign_in(new_app(), "ada")
    app.switch_page("app_pages/mcp_servers.py")
    return app.run()


def test_an_administrator_registers_lists_the_tools_of_and_removes_a_server(
    stack: UiStack, calculator_url: str
):
    app = open_page(stack)
    assert not app.exception
    assert [header.value for header in app.header] == ["MCP servers"]
    assert any("acts for everyone the server is published to" in warning.value for warning in app.warning)

    app.text_input(key="mcp_name").input("calc")
    app.text_input(key="mcp_url").input(calculator_url)
    app.text_input(key="mcp_header").input("Authorization")
    app.text_input(key="mcp_secret").input("Bearer not-shown")
    app.checkbox(key="mcp_private").check()
    app = next(button for button in app.button if button.label == "Save").click().run()
    assert "Saved calc." in [success.value for success in app.success]
    shown = " ".join(str(markdown.value) for markdown in app.markdown)
    assert "not\\-shown" not in shown
    assert "not-shown" not in shown

    app = app.button(key="mcp_tools_calc").click().run()
    shown = [str(markdown.value) for markdown in app.markdown]
    assert "**add**: Add two integers\\." in shown, "tool descriptions are plain text"

    app = app.button(key="mcp_remove_calc").click().run()
    assert "Removed calc." in [success.value for success in app.success]


def test_a_chat_with_a_chosen_tool_shows_the_step_collapsed_with_its_result(
    stack: UiStack, calculator_url: str
):
    app = open_page(stack)
    app.text_input(key="mcp_name").input("calc")
    app.text_input(key="mcp_url").input(calculator_url)
    app.checkbox(key="mcp_private").check()
    app = next(button for button in app.button if button.label == "Save").click().run()
    assert "Saved calc." in [success.value for success in app.success]

    app.switch_page("app_pages/chat.py")
    app = app.run()
    app.selectbox(key="chat_model").set_value(
        next(option for option in app.selectbox(key="chat_model").options if "bedrock" in option)
    )
    app = app.run()
    app.multiselect(key="chat_tools").set_value(["calc/add"])
    app = app.run()
    app.selectbox(key="chat_tool_choice").set_value("calc/add")
    app.slider(key="chat_temperature").set_value(0.0)
    app.number_input(key="chat_max_new_tokens").set_value(30)
    app.chat_input(key="chat_prompt").set_value("What is 2 plus 3?")
    app = app.run()
    assert not app.exception
    # The label is plain text: its punctuation escaped as markdown.
    [step] = [expander for expander in app.expander if "Tool calc\\/add" in expander.label]
    assert "(done)" in step.label
    results = [code.value for code in step.code]
    assert '"a"' in results[0], "the arguments"
    assert results[1].isdigit(), "the tool's result, as plain text"
