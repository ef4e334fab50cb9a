"""The first account, made in the browser, is the administrator; the Users page is theirs alone.

This module's stack starts with an empty users file (conftest: a fresh folder per module)."""

from __future__ import annotations

import pytest

from chatbot.api.users import UsersFile
from tests.streamlit_app.conftest import new_app, sign_in
from tests.streamlit_app.stack import PASSWORD, UiStack


def create_first_account(name: str):
    app = new_app().run()
    for field, value in zip(app.text_input, [name, PASSWORD, PASSWORD], strict=True):
        field.input(value)
    return app.button[0].click().run()


def open_users_page(app):
    app.switch_page("app_pages/users.py")
    return app.run()


def test_the_first_account_made_on_the_sign_in_page_is_the_administrator(stack: UiStack):
    app = create_first_account("Ada")
    assert not app.exception
    assert "The account ada is ready, and it is the administrator. Sign in with it." in [
        s.value for s in app.success
    ]
    assert UsersFile(stack.users_file).is_admin("ada")
    app = open_users_page(sign_in(new_app(), "ada"))
    assert [header.value for header in app.header] == ["Users"]
    assert "**ada** · administrator" in [str(markdown.value) for markdown in app.markdown]


def test_the_administrator_adds_resets_and_removes_users(stack: UiStack):
    users = UsersFile(stack.users_file)
    if not users.names():
        users.create_first("ada", PASSWORD)
    app = open_users_page(sign_in(new_app(), "ada"))
    app.text_input(key="users_name").input("bob")
    app.text_input(key="users_password").input("bobs own password")
    app = app.button[0].click().run()
    assert "Added bob." in [s.value for s in app.success]
    assert users.check("bob", "bobs own password")
    assert not users.is_admin("bob")

    app.text_input(key="users_name").input("bob")
    app.text_input(key="users_password").input("a forgotten one")
    app = app.button[0].click().run()
    assert "Reset the password of bob." in [s.value for s in app.success]
    assert users.check("bob", "a forgotten one")

    app.selectbox(key="users_remove_name").set_value("bob")
    app = app.button(key="users_remove").click().run()
    assert "Removed bob." in [s.value for s in app.success]
    assert "bob" not in users.names()


def test_other_users_never_see_the_users_page(stack: UiStack):
    users = UsersFile(stack.users_file)
    if not users.names():
        users.create_first("ada", PASSWORD)
    stack.add_user("carl")
    app = sign_in(new_app(), "carl")
    assert not app.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("app_pages/users.py")  # not in carl's navigation at all


def test_deleting_a_users_data_is_a_choice_confirmed_by_typing_their_name(stack: UiStack):
    users = UsersFile(stack.users_file)
    if not users.names():
        users.create_first("ada", PASSWORD)
    stack.add_user("dora")
    app = open_users_page(sign_in(new_app(), "ada"))
    app.selectbox(key="users_remove_name").set_value("dora")
    app = app.checkbox(key="users_remove_data").check().run()
    assert app.button(key="users_remove").disabled, "not until the name is typed"
    assert any("cannot be undone" in w.value for w in app.warning)

    app = app.text_input(key="users_remove_confirm").input("dor").run()
    assert app.button(key="users_remove").disabled
    app = app.text_input(key="users_remove_confirm").input("dora").run()
    app = app.button(key="users_remove").click().run()

    assert not app.exception
    notice = next(s.value for s in app.success if s.value.startswith("Removed dora"))
    assert "deleted their data: 0 conversations (0 messages)" in notice
    assert "arena votes kept, anonymised" in notice
    assert "dora" not in users.names()
