"""The Settings page: a signed-in user creates, sees and revokes gateway API keys (real chat API),
and a key made there works with the official `openai` client."""

from __future__ import annotations

import openai
import pytest

from streamlit_app.settings import UiSettings


def open_settings(app):
    app.switch_page("app_pages/settings.py")
    return app.run()


def create_key(app, name: str):
    app.text_input(key="set_key_name").input(name)
    app.button[0].click()  # the form's submit button
    return app.run()


def shown_keys(app) -> list[str]:
    return [str(block.value) for block in app.code if str(block.value).startswith("sk-chatbot-")]


def test_with_no_keys_the_page_says_so_and_shows_how_to_use_one(signed_in):
    app = open_settings(signed_in)
    assert not app.exception
    assert any("no API keys yet" in str(info.value) for info in app.info)
    assert any('base_url="http://127.0.0.1' in str(block.value) for block in app.code)


def test_a_new_key_is_shown_once_and_works_with_the_openai_client(signed_in, stack):
    app = create_key(open_settings(signed_in), "laptop")
    assert not app.exception
    (key,) = shown_keys(app)
    assert any("shown only this once" in str(message.value) for message in app.success)
    assert any(f"`{key[:15]}…`" in str(text.value) for text in app.markdown)
    with openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=key, max_retries=0) as client:
        assert client.models.list().data
    app = app.run()
    assert shown_keys(app) == [], "a rerun does not show the key again"


def test_revoking_a_key_marks_it_revoked_and_the_key_stops_working(signed_in, stack):
    app = create_key(open_settings(signed_in), "old")
    (key,) = shown_keys(app)
    revoke = next(button for button in app.button if button.key and button.key.startswith("set_revoke_"))
    app = revoke.click().run()
    assert not app.exception
    assert any("revoked" in str(text.value) for text in app.markdown)
    assert not [button for button in app.button if button.key and button.key.startswith("set_revoke_")]
    client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=key, max_retries=0)
    with client, pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_the_gateway_url_shown_can_be_set_for_a_deployment(monkeypatch):
    monkeypatch.setenv("CHAT_API_URL", "http://api.internal:8000/")
    assert UiSettings.from_env().openai_base_url == "http://api.internal:8000/v1"
    monkeypatch.setenv("GATEWAY_URL", "https://chat.example.com/v1/")
    assert UiSettings.from_env().openai_base_url == "https://chat.example.com/v1"
