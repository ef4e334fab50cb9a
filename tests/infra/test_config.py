"""Stack config: every key validated before any resource, errors that name the key."""

from __future__ import annotations

import re

import pytest

from chatbot.errors import ConfigError
from chatbot.models.deployment import ContainerDeployment
from infra.checks.offline import ResourceGraph
from infra.checks.offline_stack import offline_run
from infra.config import PROJECT_ROOT, StackConfig
from infra.program import load_config
from tests.infra.support import CPU_LLAMACPP_MODEL, stack_config, stack_models


def fails_with(config: dict[str, str], pattern: str) -> None:
    """The program refuses the config, says `pattern`, and has registered no resource."""
    graph = ResourceGraph()
    with pytest.raises(ConfigError, match=pattern):
        offline_run("dev", config, graph=graph)
    assert graph.resources == [], "a bad config must fail before any resource"


def test_both_stack_files_are_valid():
    for stack in ("dev", "prod"):
        config, region = load_config(stack_config(stack), stack)
        assert region == "us-east-1"
        assert config.models


def test_dev_is_the_cheap_stack_and_prod_the_protected_one():
    dev, _ = load_config(stack_config("dev"), "dev")
    prod, _ = load_config(stack_config("prod"), "prod")
    assert [m.deployment.kind for m in dev.models] == ["bedrock", "bedrock", "cpu-llamacpp"]
    assert dev.models[2].deployment.scale_to_zero  # $0 at idle
    assert dev.web.architecture == "arm64"
    assert dev.semantic_search.enabled
    assert dev.network.nat_gateways == 0
    assert dev.network.nat_instance_type == "t4g.nano"
    assert dev.budget_usd_month == 80
    assert not dev.deletion_protection
    assert prod.network.nat_gateways == 2
    assert prod.deletion_protection
    assert prod.web.mfa == "ON"
    assert isinstance(prod.models[0].deployment, ContainerDeployment)
    assert prod.models[0].deployment.image in ("tgi", "lmi")


def test_an_unknown_key_is_named():
    fails_with(stack_config("dev", nat_gateways=2), r"unknown key 'chatbot:nat_gateways'")


def test_a_bad_value_in_a_section_names_the_dotted_key():
    fails_with(stack_config("dev", web={"mfa": "SOMETIMES"}), r"chatbot:web\.mfa: Input should be 'OFF'")


def test_a_typo_inside_a_section_is_rejected():
    fails_with(stack_config("dev", network={"nat_gateway": 1}), r"chatbot:network\.nat_gateway: Extra inputs")


def test_a_bad_model_names_the_key_the_model_and_the_field():
    models = stack_models("dev")
    models[0] = {**models[0], "temprature": 0.5}
    fails_with(
        stack_config("dev", models=models), r"chatbot:models: model 'nova-micro': temprature: Extra inputs"
    )


def test_the_region_is_required_and_must_be_in_the_pinned_tables():
    config = stack_config("dev")
    del config["aws:region"]
    fails_with(config, r"aws:region is not set")
    fails_with(
        stack_config("dev", **{"aws:region": "xx-nowhere-1"}),
        r"aws:region: 'xx-nowhere-1' is not in the pinned",
    )


def test_a_model_package_needs_an_arn_for_the_stacks_region():
    package = {
        "name": "pkg",
        "model_id": "x/y",
        "endpoint_name": "pkg",
        "context_window": 2048,
        "deployment": {
            "kind": "package",
            "model_package_arns": {"eu-west-1": "arn:aws:sagemaker:eu-west-1:1:model-package/x"},
        },
    }
    fails_with(
        stack_config("dev", models=[package]),
        r"model 'pkg': deployment\.model_package_arns: no ARN for us-east-1",
    )


def test_a_cpu_model_must_be_one_the_inference_image_serves():
    models = [{**CPU_LLAMACPP_MODEL, "name": "another"}]
    fails_with(stack_config("dev", models=models), r"model 'another': deployment\.gguf: .*models\.yaml")


def test_a_custom_script_needs_its_code_folder():
    search = {**stack_config_section("dev", "semantic_search")}
    search["embeddings"]["deployment"]["code_dir"] = "no/such/folder"
    fails_with(
        stack_config("dev", semantic_search=search),
        r"deployment\.code_dir: folder 'no/such/folder' not found",
    )


def test_a_deployed_endpoint_name_must_fit_sagemakers_limit():
    models = stack_models("dev")
    models[0] = {**models[0], "endpoint_name": "e" * 62}
    fails_with(
        stack_config("dev", models=models), r"endpoint_name: 'e{62}-dev' is over SageMaker's 63 characters"
    )


def test_semantic_search_needs_an_embeddings_model():
    fails_with(
        stack_config("dev", semantic_search={"enabled": True}), r"chatbot:semantic_search: .*embeddings"
    )


def test_a_certificate_must_be_in_us_east_1_for_cloudfront():
    web = {"domain_name": "chat.example.com", "certificate_arn": "arn:aws:acm:eu-west-1:1:certificate/x"}
    fails_with(stack_config("dev", web=web), r"chatbot:web: .*us-east-1")


def test_a_waiver_must_name_a_rule_and_give_a_reason():
    fails_with(
        stack_config("dev", security_waivers={"no-such-rule": "because we said so"}),
        r"unknown rules \['no-such-rule'\]",
    )
    fails_with(stack_config("dev", security_waivers={"cloudfront-tls": "meh"}), r"say why the rule is waived")


def stack_config_section(stack: str, key: str) -> dict:
    import json

    return json.loads(stack_config(stack)[f"chatbot:{key}"])


def _keys(model: type, prefix: str) -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        keys.append(f"{prefix}{name}")
        annotation = field.annotation
        if isinstance(annotation, type) and annotation.__name__.endswith("Config"):
            keys += _keys(annotation, f"{prefix}{name}.")
    return keys


def test_every_config_key_is_documented_in_deploy_md():
    text = (PROJECT_ROOT / "docs" / "DEPLOY.md").read_text()
    missing = [key for key in _keys(StackConfig, "chatbot:") if not re.search(re.escape(key) + r"\b", text)]
    assert not missing, f"docs/DEPLOY.md does not document {missing}"


def test_the_database_version_is_a_major_only():
    semantic = {**load_config(stack_config("dev"), "dev")[0].semantic_search.model_dump(mode="json")}
    fails_with(
        stack_config("dev", semantic_search={**semantic, "db_engine_version": "16.6"}),
        r"chatbot:semantic_search\.db_engine_version: .*give the major version only, e\.g\. '16'",
    )
    assert StackConfig(models=[]).semantic_search.db_engine_version == "16"


def test_reserved_concurrency_is_unset_unless_a_stack_asks_for_it():
    assert StackConfig(models=[]).chat_api.reserved_concurrency is None
    dev, _ = load_config(stack_config("dev"), "dev")
    assert dev.chat_api.reserved_concurrency is None
