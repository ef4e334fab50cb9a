"""Models and presets at runtime: the same contract against both real stores, Postgres and
DynamoDB (on moto), behind the cache every instance of the API reads them through."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chatbot.api.model_access import ModelSettings, PresetSettings
from chatbot.api.quotas import AuditEntry
from chatbot.chat.dynamodb_store import TABLE_SCHEMA
from chatbot.errors import ParameterError, UnknownModelError
from chatbot.models.catalog import ModelCatalog
from chatbot.policy.dynamodb_model_access import DynamoDBModelAccessStore
from chatbot.policy.model_access import (
    MAX_TTL_S,
    ModelAccess,
    ModelAccessStore,
    ModelNotAllowedError,
    PresetNotFoundError,
)
from chatbot.policy.postgres_model_access import PostgresModelAccessStore
from chatbot.postgres import ConnectionPool, create_database
from tests.chatbot.chat.conftest import serialise_moto

_databases = itertools.count()
SMALL, GEMMA, BEDROCK = "smollm2-135m", "gemma3-270m", "smollm2-135m-bedrock"


class Clock:
    """Seconds, moved by the test: the cache's expiry without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dynamodb_store(monkeypatch) -> Iterator[ModelAccessStore]:
    serialise_moto(monkeypatch)
    with mock_aws():
        boto3.resource("dynamodb", region_name="us-east-1").create_table(TableName="history", **TABLE_SCHEMA)
        yield DynamoDBModelAccessStore("history", region="us-east-1")


@pytest.fixture
def postgres_store(postgres_server_url: str) -> Iterator[ModelAccessStore]:
    pool = ConnectionPool(create_database(postgres_server_url, f"model_access_{next(_databases)}"))
    yield PostgresModelAccessStore(pool)
    pool.close()


@pytest.fixture(params=["postgres", "dynamodb"])
def store(request) -> ModelAccessStore:
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def audit() -> list[AuditEntry]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access(catalog: ModelCatalog, store: ModelAccessStore, clock: Clock, audit: list) -> ModelAccess:
    return ModelAccess(catalog, store, clock=clock, audit=audit.append)


def test_every_deployed_chat_model_is_enabled_for_everyone_until_an_administrator_says_otherwise(
    access: ModelAccess,
):
    assert access.usable({"user"}) == [SMALL, GEMMA, BEDROCK]
    assert all(entry.enabled and entry.roles == [] for entry in access.entries())
    assert access.default_for(set()) == SMALL, "no default set: the first the caller may use"


def test_a_disabled_model_is_refused_to_everyone_with_a_403_that_names_the_others(access: ModelAccess):
    access.set_model(GEMMA, ModelSettings(enabled=False), actor="root")
    assert GEMMA not in access.usable({"admin", "user"})
    with pytest.raises(ModelNotAllowedError) as refused:
        access.check(GEMMA, {"admin"})
    assert (refused.value.http_status, refused.value.code) == (403, "model_not_allowed")
    assert "may not use the model 'gemma3-270m'" in str(refused.value)
    assert refused.value.details() == {"available": sorted([SMALL, BEDROCK])}


def test_a_model_published_to_roles_is_for_their_members_only(access: ModelAccess):
    access.set_model(BEDROCK, ModelSettings(roles=["research"]), actor="root")
    assert BEDROCK in access.usable({"user", "research"})
    assert BEDROCK not in access.usable({"user"})
    access.set_model(BEDROCK, ModelSettings(roles=["user"]), actor="root")
    assert BEDROCK in access.usable(set()), "'user' is everyone"


def test_an_unknown_model_is_the_catalogs_404_not_a_403(access: ModelAccess):
    access.check("no-such-model", set())  # not for the model check to refuse
    with pytest.raises(UnknownModelError):
        access.set_model("no-such-model", ModelSettings(), actor="root")


def test_one_model_is_the_default_and_setting_another_clears_the_first(access: ModelAccess):
    access.set_model(GEMMA, ModelSettings(default=True), actor="root")
    access.set_model(BEDROCK, ModelSettings(default=True), actor="root")
    assert [entry.name for entry in access.entries() if entry.default] == [BEDROCK]
    assert access.default_for(set()) == BEDROCK
    access.set_model(BEDROCK, ModelSettings(default=True, roles=["research"]), actor="root")
    assert access.default_for(set()) == SMALL, "a default the caller may not use is not theirs"


def test_another_instances_change_shows_once_the_cache_expires_within_30_seconds(
    catalog: ModelCatalog, store: ModelAccessStore, access: ModelAccess, clock: Clock
):
    assert GEMMA in access.usable(set())  # read, and cached
    other_instance = ModelAccess(catalog, store)
    other_instance.set_model(GEMMA, ModelSettings(enabled=False), actor="root")
    clock.now += MAX_TTL_S - 1
    assert GEMMA in access.usable(set()), "still the cached settings"
    clock.now += 1
    assert GEMMA not in access.usable(set()), "30 s after it was read, the store is read again"


def test_a_cache_longer_than_30_seconds_is_refused(catalog: ModelCatalog, store: ModelAccessStore):
    with pytest.raises(ValueError, match="30"):
        ModelAccess(catalog, store, ttl_s=31)


def test_presets_are_published_to_roles_and_need_a_model_the_caller_may_use(access: ModelAccess):
    access.set_preset(
        "Tutor",
        PresetSettings(model=SMALL, system_prompt="Explain step by step.", parameters={"temperature": 0.3}),
        actor="root",
    )
    access.set_preset("Lab", PresetSettings(model=GEMMA, roles=["research"]), actor="root")
    assert [p.name for p in access.presets_for({"user"})] == ["Tutor"]
    assert [p.name for p in access.presets_for({"research"})] == ["Lab", "Tutor"]
    tutor = access.preset_for("Tutor", set())
    assert (tutor.model, tutor.system_prompt, tutor.parameters) == (
        SMALL,
        "Explain step by step.",
        {"temperature": 0.3},
    )
    access.set_model(SMALL, ModelSettings(enabled=False), actor="root")
    with pytest.raises(PresetNotFoundError):
        access.preset_for("Tutor", set())


def test_a_preset_is_replaced_deleted_and_checked_against_its_model(access: ModelAccess):
    access.set_preset("Tutor", PresetSettings(model=SMALL), actor="root")
    access.set_preset("Tutor", PresetSettings(model=GEMMA, description="now on gemma"), actor="root")
    assert [(p.name, p.model) for p in access.presets()] == [("Tutor", GEMMA)]
    with pytest.raises(ParameterError):
        access.set_preset("Hot", PresetSettings(model=SMALL, parameters={"temperature": 9}), actor="root")
    with pytest.raises(UnknownModelError):
        access.set_preset("Ghost", PresetSettings(model="no-such-model"), actor="root")
    access.delete_preset("Tutor", actor="root")
    assert access.presets() == []
    with pytest.raises(PresetNotFoundError):
        access.delete_preset("Tutor", actor="root")


def test_every_change_is_audited_with_who_what_and_the_values_before_and_after(
    access: ModelAccess, audit: list[AuditEntry]
):
    access.set_model(GEMMA, ModelSettings(enabled=False), actor="root")
    access.set_preset("Tutor", PresetSettings(model=SMALL), actor="ada")
    access.delete_preset("Tutor", actor="ada")
    assert [(e.actor, e.action, e.target) for e in audit] == [
        ("root", "set_model", f"model:{GEMMA}"),
        ("ada", "set_preset", "preset:Tutor"),
        ("ada", "delete_preset", "preset:Tutor"),
    ]
    assert (audit[0].before["enabled"], audit[0].after["enabled"]) == (True, False)
    assert (audit[2].before["model"], audit[2].after) == (SMALL, {})
