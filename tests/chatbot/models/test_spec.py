"""ModelSpec and model catalogs: one schema, and errors that name the file, model and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.api.limits import SEED_MAX
from chatbot.errors import ConfigError, ParameterError, UnknownModelError
from chatbot.models.catalog import ModelCatalog, load_catalog
from chatbot.models.request_config import OPENAI_CHAT
from chatbot.models.spec import ModelSpec

SPEC = {
    "name": "tiny",
    "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "endpoint_name": "tiny-endpoint",
    "context_window": 2048,
    "deployment": {"kind": "cpu-llamacpp", "gguf": "smollm2-135m-instruct-q4_1"},
}


def write_catalog(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(text)
    return path


def test_the_shipped_catalog_lists_both_local_models_and_one_through_bedrock(catalog: ModelCatalog):
    assert {spec.model_id for spec in catalog} == {
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        "google/gemma-3-270m",
    }
    kinds = {spec.name: spec.deployment.kind for spec in catalog}
    assert kinds == {
        "smollm2-135m": "cpu-llamacpp",
        "gemma3-270m": "cpu-llamacpp",
        "smollm2-135m-bedrock": "bedrock",
    }
    assert catalog.get("smollm2-135m-bedrock").deployment.model_id == "smollm2-135m", (
        "a model the server serves"
    )


def test_a_builtin_request_config_can_be_named():
    spec = ModelSpec.model_validate({**SPEC, "endpoint_req_config": "openai-chat"})
    assert spec.endpoint_req_config is OPENAI_CHAT


def test_unknown_fields_are_rejected_with_the_file_model_and_field_named(tmp_path: Path):
    path = write_catalog(
        tmp_path,
        "models:\n  - name: tiny\n    model_id: x\n    endpoint_name: e\n    context_window: 2048\n"
        "    deployment: {kind: cpu-llamacpp, gguf: g}\n    temprature: 0.5\n",
    )
    with pytest.raises(ConfigError) as error:
        load_catalog(path)
    assert str(path) in str(error.value)
    assert "model 'tiny'" in str(error.value)
    assert "temprature: Extra inputs are not permitted" in str(error.value)


def test_a_deployment_kind_without_its_fields_is_rejected(tmp_path: Path):
    path = write_catalog(
        tmp_path,
        "models:\n  - name: big\n    model_id: x\n    endpoint_name: e\n    context_window: 4096\n"
        "    deployment: {kind: container}\n",
    )
    with pytest.raises(ConfigError, match=r"model 'big': deployment: .*needs image, hf_model_id"):
        load_catalog(path)


def test_broken_yaml_and_missing_files_say_what_to_do(tmp_path: Path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_catalog(write_catalog(tmp_path, "models: [\n"))
    with pytest.raises(ConfigError, match="not found. Pass --config"):
        load_catalog(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="'models' list"):
        load_catalog(write_catalog(tmp_path, "- a\n"))


def test_duplicate_names_are_rejected():
    spec = ModelSpec.model_validate(SPEC)
    with pytest.raises(ConfigError, match="Two models are named 'tiny'"):
        ModelCatalog([spec, spec])


def test_an_unknown_model_lists_the_available_ones(catalog: ModelCatalog):
    with pytest.raises(
        UnknownModelError, match="Unknown model 'gpt-9'. Pick one of: gemma3-270m, smollm2-135m"
    ):
        catalog.get("gpt-9")


def test_defaults_above_the_models_limit_are_a_config_error():
    with pytest.raises(ValueError, match="exceeds max_new_tokens_limit"):
        ModelSpec.model_validate(
            {**SPEC, "max_new_tokens_limit": 100, "default_parameters": {"max_new_tokens": 200}}
        )


def test_caller_overrides_are_checked_against_the_models_limits():
    spec = ModelSpec.model_validate({**SPEC, "max_new_tokens_limit": 512})
    assert spec.resolve_parameters({"temperature": 0.2}).temperature == 0.2
    with pytest.raises(ParameterError, match="max_new_tokens=4000 is more than tiny allows \\(512\\)"):
        spec.resolve_parameters({"max_new_tokens": 4000})
    with pytest.raises(ParameterError, match="temperature: Input should be less than or equal to 2"):
        spec.resolve_parameters({"temperature": 7})
    with pytest.raises(ParameterError, match="top_p: Input should be greater than 0"):
        spec.resolve_parameters({"top_p": 0})


def test_a_seed_fits_in_32_bits_as_the_models_sampler_takes_it():
    spec = ModelSpec.model_validate(SPEC)
    assert spec.resolve_parameters({"seed": SEED_MAX}).seed == 2**32 - 1
    with pytest.raises(ParameterError, match="seed: Input should be less than or equal to 4294967295"):
        spec.resolve_parameters({"seed": 2**32})


def test_the_catalog_says_which_models_take_tools(catalog: ModelCatalog):
    takes_tools = {spec.name: spec.tools for spec in catalog}
    assert takes_tools == {"smollm2-135m": True, "gemma3-270m": False, "smollm2-135m-bedrock": True}


def test_a_model_without_tools_refuses_them_and_says_what_to_do():
    spec = ModelSpec.model_validate(SPEC)
    assert spec.tools is False, "tools are off unless the catalog says so"
    with pytest.raises(ParameterError, match="tiny does not take tools.*tools: true"):
        spec.check_takes_tools()
    ModelSpec.model_validate({**SPEC, "tools": True}).check_takes_tools()
