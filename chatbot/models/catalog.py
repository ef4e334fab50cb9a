"""Reading model catalogs (models.yaml, or the `models` list of a Pulumi stack config)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import ValidationError

from chatbot.errors import ConfigError, UnknownModelError
from chatbot.models.deployment import DeploymentKind
from chatbot.models.spec import ModelSpec


class ModelCatalog:
    """The models a deployment serves, by name."""

    def __init__(self, specs: list[ModelSpec]):
        self._by_name: dict[str, ModelSpec] = {}
        for spec in specs:
            if spec.name in self._by_name:
                raise ConfigError(f"Two models are named {spec.name!r}; model names must be unique.")
            self._by_name[spec.name] = spec

    def __iter__(self):
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> ModelSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownModelError(name, self.names) from None

    def by_endpoint(self, endpoint_name: str) -> ModelSpec:
        for spec in self._by_name.values():
            if spec.endpoint_name == endpoint_name:
                return spec
        raise UnknownModelError(endpoint_name, [spec.endpoint_name for spec in self._by_name.values()])


KINDS = frozenset(get_args(DeploymentKind))


def field_path(loc: tuple[Any, ...]) -> str:
    """A field's place as a person wrote it: `deployment`, not the kind class pydantic picked
    for it (`deployment.container`)."""
    parts = [
        str(part)
        for index, part in enumerate(loc)
        if not (index and loc[index - 1] == "deployment" and part in KINDS)
    ]
    return ".".join(parts)


def parse_model_specs(entries: Any, source: str) -> list[ModelSpec]:
    """Validate a list of model mappings; errors name the source, the model and the field."""
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: expected a non-empty list of models under 'models'.")
    specs = []
    for index, entry in enumerate(entries):
        label = entry.get("name", f"#{index + 1}") if isinstance(entry, dict) else f"#{index + 1}"
        try:
            specs.append(ModelSpec.model_validate(entry))
        except ValidationError as exc:
            problems = "; ".join(
                f"{field_path(error['loc']) or '(model)'}: {error['msg']}" for error in exc.errors()
            )
            raise ConfigError(f"{source}: model {label!r}: {problems}") from None
    return specs


def load_catalog(path: str | Path) -> ModelCatalog:
    """Load a models.yaml file: `models: [ModelSpec, ...]`."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: model catalog not found. Pass --config with a models.yaml.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict) or "models" not in document:
        raise ConfigError(f"{path}: expected a mapping with a 'models' list at the top.")
    return ModelCatalog(parse_model_specs(document["models"], str(path)))
