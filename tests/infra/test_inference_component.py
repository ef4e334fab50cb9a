"""The inference-component dynamic provider against the real SageMaker API shapes (botocore's
Stubber checks every request against the service model)."""

from __future__ import annotations

import subprocess
import sys

import boto3
import pytest
from botocore.stub import Stubber
from pulumi.dynamic.dynamic import serialize_provider

from infra.checks.offline import OfflineRun
from infra.components.inference_component import InferenceComponentFailedError, InferenceComponentProvider
from infra.config import PROJECT_ROOT

ARN = "arn:aws:sagemaker:us-east-1:123456789012:inference-component/zero-dev-ic"
PROPS = {
    "name": "zero-dev-ic",
    "endpoint_name": "zero-dev",
    "variant_name": "AllTraffic",
    "model_name": "llm-zero-model-model-1a2b3c",
    "region": "us-east-1",
    "profile": "",
    "cpu_cores": 0,
    "accelerators": 1,
    "min_memory_mb": 1024,
    "initial_copy_count": 1,
    "startup_health_check_timeout_s": 600,
    "model_data_download_timeout_s": 900,
    "arn": None,
}
SPECIFICATION = {
    "ModelName": "llm-zero-model-model-1a2b3c",
    "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024, "NumberOfAcceleratorDevicesRequired": 1.0},
    "StartupParameters": {
        "ModelDataDownloadTimeoutInSeconds": 900,
        "ContainerStartupHealthCheckTimeoutInSeconds": 600,
    },
}


def described(status: str, **extra: object) -> dict[str, object]:
    return {
        "InferenceComponentName": "zero-dev-ic",
        "InferenceComponentArn": ARN,
        "EndpointName": "zero-dev",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/zero-dev",
        "CreationTime": "2026-12-01T00:00:00Z",
        "LastModifiedTime": "2026-12-01T00:00:00Z",
        "InferenceComponentStatus": status,
        **extra,
    }


@pytest.fixture
def stubbed() -> tuple[InferenceComponentProvider, Stubber]:
    client = boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    provider = InferenceComponentProvider()
    provider.client_factory = lambda _props: client
    provider.poll_s = 0
    with stubber:
        yield provider, stubber
    stubber.assert_no_pending_responses()


def test_create_places_one_copy_on_the_endpoint_and_waits_until_in_service(stubbed):
    provider, stubber = stubbed
    stubber.add_response(
        "create_inference_component",
        {"InferenceComponentArn": ARN},
        {
            "InferenceComponentName": "zero-dev-ic",
            "EndpointName": "zero-dev",
            "VariantName": "AllTraffic",
            "Specification": SPECIFICATION,
            "RuntimeConfig": {"CopyCount": 1},
        },
    )
    stubber.add_response(
        "describe_inference_component", described("Creating"), {"InferenceComponentName": "zero-dev-ic"}
    )
    stubber.add_response(
        "describe_inference_component", described("InService"), {"InferenceComponentName": "zero-dev-ic"}
    )
    result = provider.create(PROPS)
    assert result.id == "zero-dev-ic"
    assert result.outs["arn"] == ARN


def test_a_component_that_fails_to_start_fails_the_deployment_with_sagemakers_reason(stubbed):
    provider, stubber = stubbed
    stubber.add_response("create_inference_component", {"InferenceComponentArn": ARN})
    stubber.add_response(
        "describe_inference_component",
        described("Failed", FailureReason="Insufficient memory on ml.g6.xlarge"),
    )
    with pytest.raises(InferenceComponentFailedError, match="Insufficient memory"):
        provider.create(PROPS)


def test_update_changes_the_specification_and_leaves_the_copy_count_to_autoscaling(stubbed):
    provider, stubber = stubbed
    news = {**PROPS, "startup_health_check_timeout_s": 900}
    stubber.add_response(
        "update_inference_component",
        {"InferenceComponentArn": ARN},
        {
            "InferenceComponentName": "zero-dev-ic",
            "Specification": {
                **SPECIFICATION,
                "StartupParameters": {
                    "ModelDataDownloadTimeoutInSeconds": 900,
                    "ContainerStartupHealthCheckTimeoutInSeconds": 900,
                },
            },
        },
    )
    stubber.add_response("describe_inference_component", described("InService"))
    result = provider.update("zero-dev-ic", {**PROPS, "arn": ARN}, news)
    assert result.outs["arn"] == ARN


def test_delete_removes_the_component_and_tolerates_one_already_gone(stubbed):
    provider, stubber = stubbed
    stubber.add_response("delete_inference_component", {}, {"InferenceComponentName": "zero-dev-ic"})
    provider.delete("zero-dev-ic", PROPS)
    stubber.add_client_error(
        "delete_inference_component",
        service_error_code="ValidationException",
        service_message="Could not find inference component zero-dev-ic",
    )
    provider.delete("zero-dev-ic", PROPS)
    stubber.add_client_error("delete_inference_component", service_error_code="ThrottlingException")
    with pytest.raises(Exception, match="ThrottlingException"):
        provider.delete("zero-dev-ic", PROPS)


def test_a_new_endpoint_replaces_the_component_and_a_new_timeout_updates_it():
    provider = InferenceComponentProvider()
    replaced = provider.diff("zero-dev-ic", PROPS, {**PROPS, "endpoint_name": "other"})
    assert replaced.changes
    assert replaced.replaces == ["endpoint_name"]
    updated = provider.diff("zero-dev-ic", PROPS, {**PROPS, "model_data_download_timeout_s": 1200})
    assert updated.changes
    assert not updated.replaces
    assert not provider.diff("zero-dev-ic", PROPS, dict(PROPS)).changes


def test_the_provider_survives_pulumis_serialization_into_the_provider_host():
    blob = serialize_provider(InferenceComponentProvider())
    script = (
        "import base64, sys, dill; p = dill.loads(base64.b64decode(sys.argv[1])); "
        "print(type(p).__name__, callable(p.create), callable(p.update), callable(p.delete))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, blob], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["InferenceComponentProvider", "True", "True", "True"]


def test_the_program_hands_the_component_the_stacks_region(all_kinds: OfflineRun):
    [ic] = [r for r in all_kinds.graph.resources if r.name == "llm-zero-model-inference-component"]
    assert ic.inputs["region"] == "us-east-1"
    assert ic.inputs["name"] == "zero-dev-ic"
    assert ic.inputs["initial_copy_count"] == 1
