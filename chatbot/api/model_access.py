"""Models and presets at runtime (issue 21): which deployed models are switched on, for whom,
and which is the default (GET/PUT /admin/models); presets, a name plus a model, a system
prompt and parameters, published to roles (GET /presets, GET/PUT/DELETE /admin/presets/{name}).

The catalog (models.yaml, the stack file) says what is deployed; these settings only choose
among the deployed models, since IAM grants name deployed models only."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: What a role name may look like (as chatbot.policy.limits.ROLE_PATTERN: a Cognito group's characters).
RoleName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$")]
#: What a preset's name may look like: it travels in URLs and is saved with conversations.
PRESET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$"
PresetName = Annotated[str, StringConstraints(pattern=PRESET_NAME_PATTERN)]


class ModelSettings(BaseModel):
    """One deployed model's runtime settings (PUT /admin/models/{name}). A model nobody has
    set is enabled for everyone and not the default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: False: nobody may call it (it stays deployed, and comes back when enabled).
    enabled: bool = True
    #: The roles (or groups) that may use it; empty: everyone.
    roles: list[RoleName] = Field(default_factory=list, max_length=64)
    #: The model the app picks first. Setting one model's default clears the others'.
    default: bool = False


class ModelEntry(ModelSettings):
    """GET /admin/models: a deployed chat model with its settings."""

    name: str
    model_id: str


class PresetSettings(BaseModel):
    """A preset's body (PUT /admin/presets/{name})."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The deployed chat model it runs on (Compare keeps the lanes' own models).
    model: str = Field(min_length=1, max_length=200)
    #: The system prompt the answers get; empty: the model's own.
    system_prompt: str = Field("", max_length=8000)
    #: Generation parameters (as ChatRequest.parameters); a request's own values win.
    parameters: dict[str, Any] = Field(default_factory=dict)
    #: The roles (or groups) it is published to; empty: everyone.
    roles: list[RoleName] = Field(default_factory=list, max_length=64)
    description: str = Field("", max_length=500)


class Preset(PresetSettings):
    """A preset as GET /presets and GET /admin/presets list it."""

    name: PresetName
