"""LargeLanguageModel: one component for every deployment kind, each with its own least-privilege
role, a KMS-encrypted endpoint config, optional autoscaling and a registry item."""

from __future__ import annotations

import json
import re

import pytest

from chatbot.errors import ConfigError
from chatbot.models.deployment import Deployment
from chatbot.models.spec import ModelSpec
from infra.checks import pricing
from infra.checks.offline import OfflineRun, RecordedResource, ResourceGraph
from infra.components import regional
from infra.program import sagemaker_safe
from tests.infra.support import allowed, one, policy

MODEL = "aws:sagemaker/model:Model"


def component(graph: ResourceGraph, model_name: str) -> RecordedResource:
    return one(graph, "chatbot:llm:LargeLanguageModel", f"llm-{sagemaker_safe(model_name)}")


def child(graph: ResourceGraph, model_name: str, type_token: str, suffix: str) -> RecordedResource:
    return one(graph, type_token, f"llm-{sagemaker_safe(model_name)}-{suffix}")


def container(graph: ResourceGraph, model_name: str) -> dict:
    return child(graph, model_name, MODEL, "model").inputs["primaryContainer"]


def test_every_kind_builds_one_endpoint_named_for_the_stack(all_kinds: OfflineRun):
    graph = all_kinds.graph
    names = {e.inputs["name"] for e in graph.of_type("aws:sagemaker/endpoint:Endpoint")}
    assert names == {
        "marketplace-dev",
        "tgi-dev",
        "lmi-dev",
        "script-dev",
        "smollm2-135m-dev",
        "zero-dev",
        "minilm-l6-dev",
    }


def test_a_package_runs_its_regional_arn_with_network_isolation(all_kinds: OfflineRun):
    model = child(all_kinds.graph, "marketplace-model", MODEL, "model")
    assert model.inputs["primaryContainer"]["modelPackageName"].startswith("arn:aws:sagemaker:us-east-1:")
    assert "image" not in model.inputs["primaryContainer"]
    assert model.inputs["enableNetworkIsolation"] is True
    others = [m for m in all_kinds.graph.of_type(MODEL) if m is not model]
    assert not any(m.inputs["enableNetworkIsolation"] for m in others)


def test_tgi_runs_the_pinned_regional_image_with_token_limits_and_the_specs_env(all_kinds: OfflineRun):
    tgi = container(all_kinds.graph, "tgi-model")
    assert tgi["image"] == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.4.0-tgi3.0.1-gpu-py311-cu124-ubuntu22.04-v2.0"
    )
    assert tgi["environment"] == {
        "HF_MODEL_ID": "mistralai/Mistral-7B-Instruct-v0.3",
        "SM_NUM_GPUS": "1",
        "MAX_INPUT_TOKENS": "3072",  # context window minus the longest answer
        "MAX_TOTAL_TOKENS": "4096",
        "HF_MODEL_QUANTIZE": "bitsandbytes",
    }


def test_lmi_runs_the_djl_image_with_the_context_window(all_kinds: OfflineRun):
    lmi = container(all_kinds.graph, "lmi-model")
    assert lmi["image"].startswith("763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:")
    assert lmi["environment"]["OPTION_MAX_MODEL_LEN"] == "8192"
    assert lmi["environment"]["HF_MODEL_ID"] == "Qwen/Qwen2.5-7B-Instruct"


def test_a_custom_script_is_packaged_by_codebuild_before_the_model_exists(all_kinds: OfflineRun):
    graph = all_kinds.graph
    project = child(graph, "script-model", "aws:codebuild/project:Project", "build")
    bucket = child(graph, "script-model", "aws:s3/bucket:Bucket", "code")
    source = child(graph, "script-model", "aws:s3/bucketObjectv2:BucketObjectv2", "source")
    run = child(graph, "script-model", "pulumi-python:dynamic:Resource", "build-run")
    assert source.inputs["bucket"] == bucket.id
    assert project.inputs["source"]["type"] == "S3"
    assert project.inputs["source"]["location"].endswith(f"/{source.inputs['key']}")
    assert "huggingface-cli download" in project.inputs["source"]["buildspec"]
    env = {v["name"]: v["value"] for v in project.inputs["environment"]["environmentVariables"]}
    assert env["HF_MODEL_ID"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert env["ARTIFACT_URI"].endswith("/model.tar.gz")
    # The dynamic resource starts that project, waits with the spec's timeout, and hands on the artifact.
    assert run.inputs["project_name"] == project.physical_name
    assert run.inputs["timeout_minutes"] == 30
    assert run.inputs["artifact_uri"] == env["ARTIFACT_URI"]
    model = container(graph, "script-model")
    assert model["modelDataUrl"] == env["ARTIFACT_URI"]
    assert model["environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert "huggingface-pytorch-inference" in model["image"]


def test_a_changed_code_folder_means_a_new_artifact(all_kinds: OfflineRun, tmp_path):
    from infra.models.custom import hash_folder as _hash_folder

    (tmp_path / "inference.py").write_text("a = 1\n")
    before = _hash_folder(tmp_path, "model")
    (tmp_path / "inference.py").write_text("a = 2\n")
    assert _hash_folder(tmp_path, "model") != before
    assert _hash_folder(tmp_path, "other-model") != _hash_folder(tmp_path, "model")


def test_cpu_llamacpp_runs_the_projects_inference_image_for_one_model(all_kinds: OfflineRun):
    graph = all_kinds.graph
    image = one(graph, "awsx:ecr:Image", "inference-image")
    assert image.inputs["dockerfile"].endswith("inference/Dockerfile")
    model = container(graph, "smollm2-135m")
    assert model["image"].startswith("123456789012.dkr.ecr.us-east-1.amazonaws.com/inference-repo@sha256:")
    assert model["environment"] == {"INFERENCE_MODELS": "smollm2-135m"}


def test_each_model_has_its_own_role_with_only_what_its_kind_needs(all_kinds: OfflineRun):
    graph = all_kinds.graph
    roles = [
        child(graph, name, "aws:iam/role:Role", "execution-role")
        for name in ("marketplace-model", "tgi-model", "script-model", "smollm2-135m")
    ]
    assert len({role.id for role in roles}) == 4
    for role in roles:
        assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
            "Service": "sagemaker.amazonaws.com"
        }
    package, tgi, script, llamacpp = (allowed(graph, role) for role in roles)
    assert not any(action.startswith("ecr:") for action in package), "a package pulls no image of ours"
    assert tgi["ecr:BatchGetImage"] == {
        "arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-tgi-inference"
    }
    assert llamacpp["ecr:BatchGetImage"] == {
        one(graph, "aws:ecr/repository:Repository", "inference-repo").arn
    }
    assert script["s3:GetObject"] == {
        f"{child(graph, 'script-model', 'aws:s3/bucket:Bucket', 'code').arn}/artifacts/*"
    }
    assert "s3:GetObject" not in tgi
    for grants in (package, tgi, script, llamacpp):
        assert grants["logs:PutLogEvents"] != {"*"}
        wildcard_resources = {action for action, resources in grants.items() if "*" in resources}
        assert wildcard_resources <= {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}
    for attachment in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        assert "SageMakerFullAccess" not in attachment.inputs["policyArn"]


def test_endpoint_configs_carry_kms_and_the_startup_timeout(all_kinds: OfflineRun):
    graph = all_kinds.graph
    cpu = child(graph, "smollm2-135m", "aws:sagemaker/endpointConfiguration:EndpointConfiguration", "config")
    # One key for every endpoint volume of the stack ($1 a month each: not one per model).
    shared = one(graph, "aws:kms/key:Key")
    assert shared.name == "sagemaker-volumes-key"
    assert shared.inputs["enableKeyRotation"] is True
    keyed = [
        c
        for c in graph.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
        if "kmsKeyArn" in c.inputs
    ]
    assert len(keyed) > 1
    assert {config.inputs["kmsKeyArn"] for config in keyed} == {shared.arn}
    # SageMaker refuses a KMS key on instances with local NVMe (hardware-encrypted): none is set there.
    gpu = child(graph, "tgi-model", "aws:sagemaker/endpointConfiguration:EndpointConfiguration", "config")
    assert "kmsKeyArn" not in gpu.inputs
    assert gpu.inputs["productionVariants"][0]["containerStartupHealthCheckTimeoutInSeconds"] == 900
    assert cpu.inputs["productionVariants"][0]["containerStartupHealthCheckTimeoutInSeconds"] == 300


def test_autoscaling_tracks_invocations_per_instance_when_the_spec_asks(all_kinds: OfflineRun):
    graph = all_kinds.graph
    target = one(graph, "aws:appautoscaling/target:Target", "llm-tgi-model-scaling-target")
    assert target.inputs["resourceId"] == "endpoint/tgi-dev/variant/AllTraffic"
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (1, 4)
    policy = one(graph, "aws:appautoscaling/policy:Policy", "llm-tgi-model-scaling-policy")
    tracking = policy.inputs["targetTrackingScalingPolicyConfiguration"]
    assert (
        tracking["predefinedMetricSpecification"]["predefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )
    assert tracking["targetValue"] == 25
    scaled = {t.inputs["resourceId"] for t in graph.of_type("aws:appautoscaling/target:Target")}
    assert scaled == {
        "endpoint/tgi-dev/variant/AllTraffic",
        "inference-component/zero-dev-ic",  # scale_to_zero: copies, not instances
        "service/web-app-cluster/web-app-service",
    }


def test_the_registry_item_is_fastchats_schema_plus_the_deployed_spec(all_kinds: OfflineRun):
    graph = all_kinds.graph
    item = json.loads(
        one(graph, "aws:dynamodb/tableItem:TableItem", "chat-model-smollm2-135m").inputs["item"]
    )
    assert item["model_name"] == {"S": "smollm2-135m"}
    assert item["endpoint_name"] == {"S": "smollm2-135m-dev"}
    spec = ModelSpec.model_validate_json(item["model_spec"]["S"])
    assert spec.endpoint_name == "smollm2-135m-dev"  # the app calls what was deployed
    assert json.loads(item["endpoint_req_config"]["S"]) == json.loads(
        spec.endpoint_req_config.model_dump_json()
    )
    index = json.loads(one(graph, "aws:dynamodb/tableItem:TableItem", "chat-model-index").inputs["item"])
    assert index == {
        "model_name": {"S": "all-models"},
        "names": {
            "L": [
                {"S": name}
                for name in (
                    "marketplace-model",
                    "tgi-model",
                    "lmi-model",
                    "script-model",
                    "smollm2-135m",
                    "zero-model",
                    "nova-micro",
                    "nova-lite",
                    "minilm-l6",
                )
            ]
        },
    }


def test_the_registry_item_is_what_the_app_reads():
    """chatbot/models/registry.py writes plain strings for the same fields: the two agree."""
    from chatbot.models.registry import registry_item as app_item
    from infra.models.base import registry_item as infra_item

    spec = ModelSpec.model_validate(
        {
            "name": "m",
            "model_id": "x/y",
            "endpoint_name": "m-dev",
            "context_window": 2048,
            "deployment": {"kind": "cpu-llamacpp", "gguf": "g"},
        }
    )
    dynamo = json.loads(infra_item(spec, "m-dev"))
    assert {key: value["S"] for key, value in dynamo.items()} == app_item(spec)


def test_images_come_from_the_pinned_table_per_region():
    assert regional.image_uri("tgi", "eu-south-1").startswith(
        "692866216735.dkr.ecr.eu-south-1.amazonaws.com/"
    )
    assert regional.image_uri("lmi", "us-west-2", "0.31.0").endswith("djl-inference:0.31.0-lmi13.0.0-cu124")
    with pytest.raises(ConfigError, match="no pinned version '9.9'"):
        regional.image_uri("tgi", "us-east-1", "9.9")
    with pytest.raises(ConfigError, match="'mars-1' is not in the pinned image table"):
        regional.image_uri("tgi", "mars-1")
    assert regional.lambda_web_adapter_layer("eu-west-1") == (
        "arn:aws:lambda:eu-west-1:753240598075:layer:LambdaAdapterLayerX86:25"
    )


def test_a_model_waits_for_its_execution_policy(all_kinds: OfflineRun):
    # SageMaker checks the role's access to the image when it creates the model.
    graph = all_kinds.graph
    for model in graph.of_type("aws:sagemaker/model:Model"):
        prefix = model.name.removesuffix("-model")
        policy = one(graph, "aws:iam/rolePolicy:RolePolicy", f"{prefix}-execution-policy")
        assert policy.urn in model.dependencies, model.urn


def test_names_pulumi_derives_for_sagemaker_are_ones_sagemaker_takes(prod: OfflineRun):
    # qwen2.5-7b-instruct: a dot in a model or endpoint config name is refused by SageMaker (the
    # provider's validator caught it: tests/infra/test_terraform.py).
    for token in ("aws:sagemaker/model:Model", "aws:sagemaker/endpointConfiguration:EndpointConfiguration"):
        for resource in prod.graph.of_type(token):
            assert re.fullmatch(r"[A-Za-z0-9-]+", resource.name), resource.urn


def test_a_serverless_endpoint_runs_no_instance_and_costs_nothing_at_idle(dev: OfflineRun):
    config = one(
        dev.graph, "aws:sagemaker/endpointConfiguration:EndpointConfiguration", "retrieval-embeddings-config"
    )
    [variant] = config.inputs["productionVariants"]
    assert variant["serverlessConfig"] == {"memorySizeInMb": 2048, "maxConcurrency": 5}
    assert "instanceType" not in variant
    assert "initialInstanceCount" not in variant
    lines = {line.item: line for line in pricing.estimate(dev.graph)}
    assert lines["SageMaker endpoint minilm-l6-dev"].monthly_usd == 0


def test_serverless_excludes_autoscaling_and_kinds_sagemaker_cannot_run_that_way():
    base = {"kind": "custom-script", "code_dir": "x", "hf_model_id": "y", "serverless": {"memory_mb": 1024}}
    with pytest.raises(ValueError, match="serverless and autoscaling exclude each other"):
        Deployment(**base, autoscaling={"min_instances": 1, "max_instances": 2})
    with pytest.raises(ValueError, match="cannot run on SageMaker Serverless"):
        Deployment(kind="bedrock", model_id="amazon.nova-micro-v1:0", serverless={"memory_mb": 1024})
    with pytest.raises(ValueError, match="memory_mb"):
        Deployment(**{**base, "serverless": {"memory_mb": 1500}})


def test_every_log_group_of_a_model_keeps_the_stacks_retention(dev: OfflineRun, prod: OfflineRun):
    """SageMaker makes /aws/sagemaker/Endpoints/<name> itself, with no retention, unless it
    exists: each endpoint waits for its own group; the model build's group takes the same days."""
    for run, days in ((dev, 14), (prod, 90)):  # chatbot:chat_api.log_retention_days of each stack
        groups = run.graph.of_type("aws:cloudwatch/logGroup:LogGroup")
        by_name = {group.inputs.get("name"): group for group in groups}
        for endpoint in run.graph.of_type("aws:sagemaker/endpoint:Endpoint"):
            group = by_name[f"/aws/sagemaker/Endpoints/{endpoint.inputs['name']}"]
            assert group.inputs["retentionInDays"] == days, endpoint.urn
            assert group.urn in endpoint.dependencies, endpoint.urn
        builds = [group for group in groups if group.name.endswith("-build-logs")]
        assert builds, "the embeddings model is built by CodeBuild in both stacks"
        assert {group.inputs["retentionInDays"] for group in builds} == {days}


# --- scale_to_zero: an inference component on instances that scale to 0 -----------------------


def test_a_scale_to_zero_model_runs_as_an_inference_component_on_instances_that_scale_to_zero(
    all_kinds: OfflineRun,
):
    graph = all_kinds.graph
    config = child(graph, "zero-model", "aws:sagemaker/endpointConfiguration:EndpointConfiguration", "config")
    [variant] = config.inputs["productionVariants"]
    assert variant["managedInstanceScaling"] == {
        "status": "ENABLED",
        "minInstanceCount": 0,
        "maxInstanceCount": 2,
    }
    assert "modelName" not in variant  # the component names the model, not the variant
    role = child(graph, "zero-model", "aws:iam/role:Role", "execution-role")
    assert config.inputs["executionRoleArn"] == role.arn
    [ic] = [r for r in graph.resources if r.name == "llm-zero-model-inference-component"]
    endpoint = child(graph, "zero-model", "aws:sagemaker/endpoint:Endpoint", "endpoint")
    assert ic.inputs["endpoint_name"] == endpoint.inputs["name"]
    assert ic.inputs["model_name"] == child(graph, "zero-model", MODEL, "model").physical_name
    assert ic.inputs["accelerators"] == 1  # ml.g6: one GPU per copy
    logs = child(graph, "zero-model", "aws:cloudwatch/logGroup:LogGroup", "component-logs")
    assert logs.inputs["name"] == f"/aws/sagemaker/InferenceComponents/{ic.inputs['name']}"
    assert logs.inputs["retentionInDays"]
    assert logs.urn in ic.dependencies
    [logging] = [
        s
        for s in policy(child(graph, "zero-model", "aws:iam/rolePolicy:RolePolicy", "execution-policy"))
        if "logs:PutLogEvents" in s["Action"]
    ]
    assert f"log-group:/aws/sagemaker/InferenceComponents/{ic.inputs['name']}*" in " ".join(
        logging["Resource"]
    )


def test_copies_scale_from_zero_on_the_first_request_that_finds_none(all_kinds: OfflineRun):
    graph = all_kinds.graph
    ic_name = next(r for r in graph.resources if r.name == "llm-zero-model-inference-component").inputs[
        "name"
    ]
    target = child(graph, "zero-model", "aws:appautoscaling/target:Target", "copies-target")
    assert target.inputs["resourceId"] == f"inference-component/{ic_name}"
    assert target.inputs["scalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (0, 2)
    step = child(graph, "zero-model", "aws:appautoscaling/policy:Policy", "copies-from-zero")
    assert step.inputs["policyType"] == "StepScaling"
    assert step.inputs["stepScalingPolicyConfiguration"]["stepAdjustments"][0]["scalingAdjustment"] == 1
    alarm = child(graph, "zero-model", "aws:cloudwatch/metricAlarm:MetricAlarm", "no-capacity")
    assert alarm.inputs["metricName"] == "NoCapacityInvocationFailures"
    assert alarm.inputs["dimensions"] == {"InferenceComponentName": ic_name}
    assert alarm.inputs["alarmActions"] == [step.arn]
    tracking = child(graph, "zero-model", "aws:appautoscaling/policy:Policy", "copies-tracking")
    assert tracking.inputs["resourceId"] == target.inputs["resourceId"]  # scales in to 0 when idle


def test_the_plan_shows_a_scale_to_zero_model_free_at_idle_with_its_hourly_cost_while_active(
    all_kinds: OfflineRun,
):
    [line] = [line for line in pricing.estimate(all_kinds.graph) if "zero-dev" in line.item]
    assert line.monthly_usd == 0.0
    hourly = pricing.SAGEMAKER_HOURLY["ml.g6.xlarge"]
    assert f"$0 at idle; ${hourly:.3f} per hour per instance while active (up to 2)" in line.detail
    [alarms] = [line for line in pricing.estimate(all_kinds.graph) if line.item.startswith("Scaling alarms")]
    assert alarms.monthly_usd == 2 * pricing.CLOUDWATCH_HIGH_RESOLUTION_ALARM_MONTHLY  # AWS makes them


def test_scale_to_zero_is_for_sagemaker_instances_without_autoscaling():
    with pytest.raises(ValueError, match="bedrock and serverless"):
        Deployment(kind="bedrock", model_id="x", scale_to_zero=True)
    with pytest.raises(ValueError, match="autoscaling exclude"):
        Deployment(kind="cpu-llamacpp", gguf="x", scale_to_zero=True, autoscaling={"max_instances": 2})
