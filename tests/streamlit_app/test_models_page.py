"""The Models page (administrators only; issue 21), against the real chat API and local models:
an administrator switches a model off and a user no longer finds it, nor may call it; a preset
the administrator writes is offered in Chat, sets the model and parameters, is saved with the
conversation, and is chosen again when the conversation is opened from the history."""

from __future__ import annotations

import httpx

from chatbot.api.local_tokens import local_secret
from chatbot.api.users import UsersFile
from lambdas.chat_api.auth import LocalTokens
from streamlit_app.formatting import as_plain_text
from tests.streamlit_app.conftest import new_app, sign_in
from tests.streamlit_app.stack import PASSWORD, UiStack

GEMMA = "gemma3-270m"


def open_models_page(stack: UiStack):
    users = UsersFile(stack.users_file)
    if not users.names():
        users.create_first("ada", PASSWORD)
    app = sign_in(new_app(), "ada")
    app.switch_page("app_pages/models.py")
    return app.run()


def api_as(stack: UiStack, user: str) -> httpx.Client:
    token = LocalTokens(local_secret(stack.secret_file)).issue(user)
    return httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_an_administrator_switches_a_model_off_and_a_user_no_longer_sees_or_may_call_it(stack: UiStack):
    admin = open_models_page(stack)
    assert not admin.exception
    assert [header.value for header in admin.header] == ["Models and presets"]
    admin.toggle(key=f"models_enabled_{GEMMA}").set_value(False)
    admin = admin.button(key=f"models_save_{GEMMA}").click().run()
    assert f"Saved {as_plain_text(GEMMA)}." in [success.value for success in admin.success]

    user = sign_in(new_app(), stack.add_user("uli"))
    assert GEMMA not in user.selectbox(key="chat_model").options
    with api_as(stack, "uli") as api:
        refused = api.post("/chat", json={"model": GEMMA, "message": "Hi"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_allowed"

    admin.toggle(key=f"models_enabled_{GEMMA}").set_value(True)
    admin = admin.button(key=f"models_save_{GEMMA}").click().run()
    assert GEMMA in sign_in(new_app(), "uli").selectbox(key="chat_model").options


def test_a_preset_is_offered_in_chat_sets_model_and_parameters_and_is_saved_with_the_chat(stack: UiStack):
    admin = open_models_page(stack)
    admin.text_input(key="presets_name").input("Tutor")
    admin.selectbox(key="presets_model").set_value(GEMMA)
    admin.text_area(key="presets_system").input("Answer like a patient tutor.")
    admin.text_area(key="presets_parameters").input('{"temperature": 0.0, "max_new_tokens": 8}')
    admin = next(button for button in admin.button if button.label == "Save preset").click().run()
    assert "Saved the preset Tutor." in [success.value for success in admin.success]

    user = sign_in(new_app(), stack.add_user("pia"))
    assert user.selectbox(key="chat_preset").options == ["(no preset)", "Tutor"]
    user = user.selectbox(key="chat_preset").set_value("Tutor").run()
    assert user.selectbox(key="chat_model").value == GEMMA
    assert (
        user.slider(key="chat_temperature").value,
        user.number_input(key="chat_max_new_tokens").value,
    ) == (
        0.0,
        8,
    )
    user.chat_input(key="chat_prompt").set_value("What is 2 + 2?")
    user = user.run()
    assert not user.exception
    with api_as(stack, "pia") as api:
        (session,) = api.get("/sessions").json()["sessions"]
    assert session["preset"] == "Tutor"

    again = sign_in(new_app(), "pia")  # another visit: the chat opened from the history
    assert again.selectbox(key="chat_preset").value == ""  # shown as "(no preset)"
    [opened] = [button for button in again.sidebar.button if button.key.startswith("hist_open_")]
    again = opened.click().run()
    assert again.selectbox(key="chat_preset").value == "Tutor", "its later turns keep its preset"


def test_a_preset_chosen_in_compare_sets_the_parameters_of_every_pane_and_is_saved_with_it(stack: UiStack):
    admin = open_models_page(stack)
    admin.text_input(key="presets_name").input("Brief")
    admin.text_area(key="presets_system").input("Answer in one sentence.")
    admin.text_area(key="presets_parameters").input('{"temperature": 0.0, "max_new_tokens": 6}')
    admin = next(button for button in admin.button if button.label == "Save preset").click().run()
    assert "Saved the preset Brief." in [success.value for success in admin.success]

    user = sign_in(new_app(), stack.add_user("cai"))
    user.switch_page("app_pages/compare.py")
    user = user.run()
    user = user.selectbox(key="cmp_preset").set_value("Brief").run()
    assert (user.slider(key="cmp_temperature").value, user.number_input(key="cmp_max_new_tokens").value) == (
        0.0,
        6,
    )
    user.chat_input(key="cmp_prompt").set_value("Name a colour.")
    user = user.run()
    assert not user.exception
    with api_as(stack, "cai") as api:
        (session,) = api.get("/sessions").json()["sessions"]
    assert (session["kind"], session["preset"]) == ("compare", "Brief")


def test_a_preset_named_no_preset_is_never_taken_for_none(stack: UiStack):
    admin = open_models_page(stack)
    admin.text_input(key="presets_name").input("No preset")
    admin.selectbox(key="presets_model").set_value(GEMMA)
    admin.text_area(key="presets_parameters").input('{"max_new_tokens": 4}')
    admin = next(button for button in admin.button if button.label == "Save preset").click().run()
    assert "Saved the preset No preset." in [success.value for success in admin.success]

    user = sign_in(new_app(), stack.add_user("noa"))
    picker = user.selectbox(key="chat_preset")
    assert (picker.value, picker.options[0]) == ("", "(no preset)")  # none, whatever presets are named
    user.chat_input(key="chat_prompt").set_value("Hi")
    user = user.run()
    assert not user.exception
    with api_as(stack, "noa") as api:
        (session,) = api.get("/sessions").json()["sessions"]
    assert session["preset"] is None
