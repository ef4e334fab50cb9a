"""Who may use which deployed model, and the presets published to them (issue 21).

The catalog says what is deployed; the store (`ModelAccessStore`, kept beside the history in
Postgres or DynamoDB) says, per model, whether it is enabled, which roles may use it (none
listed: everyone) and which is the default, and keeps the presets. `ModelAccess` reads both
through a cache that lives `ttl_s` (30 s at most): every instance of the API sees an
administrator's change within that time, without a redeploy, and a request costs no read.

Enforcement is one admission of the generation pipeline (`ModelAccessAdmission`): every answer
(a chat, each lane of a compare or arena round, a /v1 call) is admitted there, so no route
checks models by itself; the arena asks it which models it may draw.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from chatbot.api.lanes import lane_label
from chatbot.api.model_access import ModelEntry, ModelSettings, Preset, PresetSettings
from chatbot.api.quotas import AuditEntry
from chatbot.chat.pipeline import Admission, Generation, Grant
from chatbot.errors import ChatbotError, UnknownModelError
from chatbot.models.catalog import ModelCatalog
from chatbot.policy.limits import EVERYONE

#: The longest an instance may serve settings an administrator has since changed (issue 21: 30 s).
MAX_TTL_S = 30.0


class ModelNotAllowedError(ChatbotError):
    """The caller's roles may not use this model (switched off, or published to other roles)."""

    code = "model_not_allowed"
    http_status = 403

    def __init__(self, name: str, available: Iterable[str], lane: str | None = None):
        self.name = name
        self.available = sorted(available)
        self.lane = lane
        why = "an administrator has switched it off or not published it to your roles"
        if lane:  # a pane is named by its label alone: an arena hides its models until the vote
            message = f"You may not use the model of pane {lane_label(lane)} any more: {why}. Start a new comparison."
        else:
            choices = ", ".join(self.available) or "none: ask an administrator to publish one to you"
            message = f"You may not use the model {name!r}: {why}. Pick one of: {choices}."
        super().__init__(message)

    def details(self) -> dict[str, object]:
        return {} if self.lane else {"available": self.available}


class PresetNotFoundError(ChatbotError):
    code = "preset_not_found"
    http_status = 404

    def __init__(self, name: str, available: Iterable[str]):
        choices = ", ".join(sorted(available)) or "none are published to you"
        super().__init__(f"There is no preset {name!r} for you. Pick one of: {choices}.")


class ModelAccessStore(ABC):
    """The settings administrators stored: per model, and the presets."""

    @abstractmethod
    def stored_models(self) -> dict[str, ModelSettings]: ...

    @abstractmethod
    def put_model(self, name: str, settings: ModelSettings) -> None: ...

    @abstractmethod
    def stored_presets(self) -> dict[str, Preset]: ...

    @abstractmethod
    def put_preset(self, preset: Preset) -> None: ...

    @abstractmethod
    def delete_preset(self, name: str) -> bool:
        """False when there was no such preset."""


def _may_use(listed: Sequence[str], roles: frozenset[str]) -> bool:
    """No roles listed: everyone; else the caller holds one of them (`user` is everyone's)."""
    return not listed or bool(set(listed) & (roles | {EVERYONE}))


@dataclass(frozen=True)
class _Snapshot:
    models: dict[str, ModelSettings]
    presets: dict[str, Preset]
    read_at: float


class ModelAccess:
    """The catalog's chat models with their runtime settings, and the presets, cached."""

    def __init__(
        self,
        catalog: ModelCatalog,
        store: ModelAccessStore,
        *,
        ttl_s: float = MAX_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        audit: Callable[[AuditEntry], None] | None = None,
    ):
        if not 0 <= ttl_s <= MAX_TTL_S:
            raise ValueError(f"ttl_s must be 0 to {MAX_TTL_S} s: changes must reach every instance in time.")
        self.catalog = catalog
        self.store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._audit = audit
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    # -- reading (cached) ---------------------------------------------------------------------

    def _read(self) -> _Snapshot:
        with self._lock:
            now = self._clock()
            if self._snapshot is None or now - self._snapshot.read_at >= self._ttl_s:
                self._snapshot = _Snapshot(self.store.stored_models(), self.store.stored_presets(), now)
            return self._snapshot

    def forget(self) -> None:
        """Read the store again next time (this instance's own change shows at once)."""
        with self._lock:
            self._snapshot = None

    @property
    def chat_models(self) -> list[str]:
        return [spec.name for spec in self.catalog if spec.task == "chat"]

    def settings(self) -> dict[str, ModelSettings]:
        """Every deployed chat model's settings (defaults for those nobody set), in catalog order."""
        stored = self._read().models
        return {name: stored.get(name, ModelSettings()) for name in self.chat_models}

    def entries(self) -> list[ModelEntry]:
        return [
            ModelEntry(name=name, model_id=self.catalog.get(name).model_id, **settings.model_dump())
            for name, settings in self.settings().items()
        ]

    def allows(self, model: str, roles: Iterable[str]) -> bool:
        settings = self.settings().get(model)
        return settings is not None and settings.enabled and _may_use(settings.roles, frozenset(roles))

    def usable(self, roles: Iterable[str]) -> list[str]:
        """The chat models these roles may use, in catalog order."""
        held = frozenset(roles)
        return [name for name in self.chat_models if self.allows(name, held)]

    def check(self, model: str, roles: Iterable[str], lane: str | None = None) -> None:
        """Raises ModelNotAllowedError (403) unless these roles may use the model (`lane`: the
        pane it answers in, named instead of the model). A model that is not deployed at all is
        the catalog's to refuse (404)."""
        held = frozenset(roles)
        if model in self.chat_models and not self.allows(model, held):
            raise ModelNotAllowedError(model, self.usable(held), lane)

    def default_for(self, roles: Iterable[str]) -> str | None:
        """The default model if these roles may use it, else the first they may; None: none."""
        usable = self.usable(roles)
        settings = self.settings()
        return next((name for name in usable if settings[name].default), usable[0] if usable else None)

    def presets(self) -> list[Preset]:
        return sorted(self._read().presets.values(), key=lambda preset: preset.name)

    def presets_for(self, roles: Iterable[str]) -> list[Preset]:
        """The presets published to these roles whose model they may use."""
        held = frozenset(roles)
        return [p for p in self.presets() if _may_use(p.roles, held) and self.allows(p.model, held)]

    def preset_for(self, name: str, roles: Iterable[str]) -> Preset:
        mine = {preset.name: preset for preset in self.presets_for(roles)}
        if name not in mine:
            raise PresetNotFoundError(name, mine)
        return mine[name]

    # -- changing (administrators; every change is audited) -----------------------------------

    def set_model(self, name: str, settings: ModelSettings, actor: str) -> ModelSettings:
        """Stores a deployed chat model's settings (UnknownModelError for any other name)."""
        if name not in self.chat_models:  # embedding and rerank models serve retrieval, not people
            raise UnknownModelError(name, self.chat_models)
        before = self.store.stored_models()
        # One default: the others' flag is cleared first. Separate writes, not a transaction:
        # two administrators setting defaults at once may leave two flags, and `default_for`
        # then takes the first in catalog order (the next change clears the other).
        if settings.default:
            for other, stored in before.items():
                if other != name and stored.default:
                    self.store.put_model(other, stored.model_copy(update={"default": False}))
        self.store.put_model(name, settings)
        self.forget()
        previous = before.get(name, ModelSettings())
        self._record(actor, "set_model", f"model:{name}", previous.model_dump(), settings.model_dump())
        return previous

    def set_preset(self, name: str, body: PresetSettings, actor: str) -> Preset:
        """Stores a preset; its model must be a deployed chat model and its parameters ones that
        model takes (ParameterError, 422)."""
        if body.model not in self.chat_models:
            raise UnknownModelError(body.model, self.chat_models)
        self.catalog.get(body.model).resolve_parameters(body.parameters)
        preset = Preset(name=name, **body.model_dump())
        before = self.store.stored_presets().get(name)
        self.store.put_preset(preset)
        self.forget()
        self._record(
            actor, "set_preset", f"preset:{name}", before.model_dump() if before else {}, preset.model_dump()
        )
        return preset

    def delete_preset(self, name: str, actor: str) -> None:
        before = self.store.stored_presets().get(name)
        if before is None or not self.store.delete_preset(name):
            raise PresetNotFoundError(name, self.store.stored_presets())
        self.forget()
        self._record(actor, "delete_preset", f"preset:{name}", before.model_dump(), {})

    def _record(self, actor: str, action: str, target: str, before: dict, after: dict) -> None:
        if self._audit is not None:
            self._audit(
                AuditEntry(
                    at=datetime.now(UTC),
                    actor=actor,
                    action=action,
                    target=target,
                    before=before,
                    after=after,
                )
            )


class ModelAccessAdmission(Admission):
    """The generation pipeline's model check: every answer of a request runs on a model the
    caller's roles may use, or the request is refused (403) before anything is saved."""

    def __init__(self, access: ModelAccess, roles: Iterable[str]):
        self._access = access
        self._roles = frozenset(roles)

    def allows(self, model: str) -> bool:
        return self._access.allows(model, self._roles)

    def admit(self, user_id: str, generations: Sequence[Generation]) -> Grant:
        for generation in generations:
            self._access.check(generation.endpoint.spec.name, self._roles, generation.lane)
        return Grant()
