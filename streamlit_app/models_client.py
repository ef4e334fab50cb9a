"""The chat API's routes for models and presets at runtime (issue 21), typed by
chatbot.api.model_access: everyone's presets, and the administrators' switches.

Kept beside `api.ChatApi` rather than in it, so this feature's calls live in one module; it uses
the same session (token, connection pool, error messages)."""

from __future__ import annotations

from urllib.parse import quote

from chatbot.api.model_access import ModelEntry, ModelSettings, Preset, PresetSettings
from streamlit_app.api import ChatApi, _parse


class ModelsApi:
    def __init__(self, api: ChatApi):
        self._api = api

    def presets(self) -> list[Preset]:
        """The presets published to the caller, on models they may use."""
        return [_parse(Preset, item) for item in self._api._json("GET", "/presets")]

    def models(self) -> list[ModelEntry]:
        """Administrators: every deployed chat model with its settings."""
        return [_parse(ModelEntry, item) for item in self._api._json("GET", "/admin/models")]

    def set_model(self, name: str, settings: ModelSettings) -> ModelEntry:
        data = self._api._json("PUT", f"/admin/models/{quote(name, safe='')}", json=settings.model_dump())
        return _parse(ModelEntry, data)

    def all_presets(self) -> list[Preset]:
        return [_parse(Preset, item) for item in self._api._json("GET", "/admin/presets")]

    def set_preset(self, name: str, body: PresetSettings) -> Preset:
        data = self._api._json("PUT", f"/admin/presets/{quote(name, safe='')}", json=body.model_dump())
        return _parse(Preset, data)

    def delete_preset(self, name: str) -> None:
        self._api._request("DELETE", f"/admin/presets/{quote(name, safe='')}")
