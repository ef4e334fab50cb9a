"""Settings read from environment variables, written once per deployable.

A deployable (the chat API, the document indexer, the web app) reads one `EnvSettings` model with
`from_env()`; the Pulumi program builds the same model and writes the function's or task's
environment with `to_env()`. Each variable's name is written once, as the field's alias:

    class Example(EnvSettings):
        table: str | None = env_field(None, "CHATBOT_TABLE")
        region: str = env_field("us-east-1", "AWS_REGION", "AWS_DEFAULT_REGION")  # read either, write the first
        database: DatabaseSettings = Field(default_factory=DatabaseSettings)   # a section: its own variables

`to_env()` writes only the fields that were set (a deployment says what it sets; defaults stay the
code's), so a value like AWS_REGION that Lambda reserves is never written by accident.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo


def env_field(default: Any, name: str, *fallbacks: str, **kwargs: Any) -> Any:
    """A field read from the variable `name` (or, when that is unset, from `fallbacks`)."""
    return Field(
        default,
        validation_alias=AliasChoices(name, *fallbacks) if fallbacks else name,
        serialization_alias=name,
        **kwargs,
    )


def env_names(field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [str(alias)] if alias else []


def _section(field: FieldInfo) -> type[EnvSettings] | None:
    """The settings class of a field that is a section of its own, else None."""
    annotation = field.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, EnvSettings) else None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 4, not 4.0
    return str(value)


class EnvSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """The settings in `env` (default: os.environ). Empty variables count as unset."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            if (section := _section(field)) is not None:
                values[name] = section.from_env(env)
                continue
            for variable in env_names(field):
                if env.get(variable):
                    values[variable] = env[variable]  # keyed by the variable: errors name it
                    break
        return cls.model_validate(values)

    def to_env(self) -> dict[str, str]:
        """The variables that reproduce the fields set here, sections included."""
        env: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if _section(field) is not None:
                env |= value.to_env()
            elif name in self.model_fields_set and value is not None and env_names(field):
                env[env_names(field)[0]] = _as_text(value)
        return env

    @classmethod
    def variable(cls, field: str) -> str:
        """The variable a field is written to (for values set elsewhere, e.g. from a secret store)."""
        return env_names(cls.model_fields[field])[0]

    @classmethod
    def variables(cls) -> list[str]:
        """Every variable this model reads (sections included), for docs and tests."""
        names: list[str] = []
        for field in cls.model_fields.values():
            if (section := _section(field)) is not None:
                names += section.variables()
            else:
                names += env_names(field)
        return names
