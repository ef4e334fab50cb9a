"""A `pulumi.dynamic` resource for a SageMaker inference component (pulumi-aws has none).

A model with `scale_to_zero` runs as an inference component on an endpoint whose instances may
scale to 0: the component's copies scale between 0 and a maximum (Application Auto Scaling on
`inference-component/<name>`), and SageMaker starts or stops instances to fit them. This resource
creates the component, waits for it to be InService, updates its specification in place (leaving
the copy count to autoscaling), and deletes it before the endpoint goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

#: Inputs that name another component: changing one means a new component.
REPLACE_ON = ("name", "endpoint_name", "variant_name", "region")
#: Inputs of the component's specification: changing one is an UpdateInferenceComponent.
SPECIFICATION = (
    "model_name",
    "cpu_cores",
    "accelerators",
    "min_memory_mb",
    "startup_health_check_timeout_s",
    "model_data_download_timeout_s",
)


class InferenceComponentFailedError(RuntimeError):
    """The component did not reach InService; the message carries SageMaker's FailureReason."""


class SageMakerClient(Protocol):
    def create_inference_component(self, **kwargs: Any) -> dict[str, Any]: ...
    def update_inference_component(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_inference_component(self, **kwargs: Any) -> dict[str, Any]: ...
    def describe_inference_component(self, **kwargs: Any) -> dict[str, Any]: ...


def specification(props: dict[str, Any]) -> dict[str, Any]:
    """CreateInferenceComponent's Specification from the resource's inputs."""
    requirements: dict[str, Any] = {"MinMemoryRequiredInMb": int(props["min_memory_mb"])}
    if int(props.get("accelerators") or 0):
        requirements["NumberOfAcceleratorDevicesRequired"] = float(props["accelerators"])
    else:
        requirements["NumberOfCpuCoresRequired"] = float(props["cpu_cores"])
    return {
        "ModelName": props["model_name"],
        "ComputeResourceRequirements": requirements,
        "StartupParameters": {
            "ModelDataDownloadTimeoutInSeconds": int(props["model_data_download_timeout_s"]),
            "ContainerStartupHealthCheckTimeoutInSeconds": int(props["startup_health_check_timeout_s"]),
        },
    }


def wait_in_service(
    client: SageMakerClient,
    name: str,
    *,
    timeout_s: float,
    poll_s: float = 15.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll DescribeInferenceComponent until InService; raise with the FailureReason otherwise."""
    deadline = clock() + timeout_s
    while True:
        described = client.describe_inference_component(InferenceComponentName=name)
        status = described["InferenceComponentStatus"]
        if status == "InService":
            return described
        if status == "Failed":
            raise InferenceComponentFailedError(
                f"inference component {name} failed: {described.get('FailureReason', '(no reason given)')}"
            )
        if clock() >= deadline:
            raise InferenceComponentFailedError(
                f"inference component {name} is still {status} after {timeout_s:.0f} s"
            )
        sleep(poll_s)


class InferenceComponentProvider(ResourceProvider):
    """Runs in Pulumi's dynamic-provider host at deploy time; imports boto3 there, not at program time."""

    #: Tests replace it with a Stubber-wrapped client.
    client_factory: Callable[[dict[str, Any]], Any] | None = None
    poll_s = 15.0

    def _client(self, props: dict[str, Any]) -> Any:
        return (self.client_factory or sagemaker_client)(props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        client = self._client(props)
        created = client.create_inference_component(
            InferenceComponentName=props["name"],
            EndpointName=props["endpoint_name"],
            VariantName=props["variant_name"],
            Specification=specification(props),
            RuntimeConfig={"CopyCount": int(props["initial_copy_count"])},
        )
        wait_in_service(client, props["name"], timeout_s=_timeout(props), poll_s=self.poll_s)
        return CreateResult(id_=props["name"], outs={**props, "arn": created["InferenceComponentArn"]})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_ON if olds.get(key) != news.get(key)]
        changed = replaces or [key for key in SPECIFICATION if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=bool(replaces))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        client = self._client(news)
        # No RuntimeConfig: the copy count is autoscaling's (possibly 0 right now), not the program's.
        client.update_inference_component(
            InferenceComponentName=news["name"], Specification=specification(news)
        )
        wait_in_service(client, news["name"], timeout_s=_timeout(news), poll_s=self.poll_s)
        return UpdateResult(outs={**news, "arn": olds.get("arn")})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        client = self._client(props)
        try:
            client.delete_inference_component(InferenceComponentName=props["name"])
        except Exception as exc:  # already gone (deleted by hand): nothing left to delete
            if "Could not find" not in str(exc):
                raise


def _timeout(props: dict[str, Any]) -> float:
    """An instance may start first (from 0), then the model downloads and starts."""
    return (
        600.0 + float(props["model_data_download_timeout_s"]) + float(props["startup_health_check_timeout_s"])
    )


def sagemaker_client(props: dict[str, Any]) -> Any:
    """A SageMaker client for the stack's account and region (the provider host sees neither)."""
    import boto3  # deploy time only

    session = boto3.Session(profile_name=props.get("profile") or None, region_name=props["region"])
    return session.client("sagemaker")


class InferenceComponent(Resource):
    """One inference component on an endpoint; its copy count after creation is autoscaling's."""

    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        component_name: str,
        endpoint_name: pulumi.Input[str],
        variant_name: str,
        model_name: pulumi.Input[str],
        region: str,
        profile: str | None = None,
        cpu_cores: float = 1,
        accelerators: int = 0,
        min_memory_mb: int = 1024,
        initial_copy_count: int = 1,
        startup_health_check_timeout_s: int = 600,
        model_data_download_timeout_s: int = 900,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(
            InferenceComponentProvider(),
            name,
            {
                "name": component_name,
                "endpoint_name": endpoint_name,
                "variant_name": variant_name,
                "model_name": model_name,
                "region": region,
                "profile": profile or "",
                "cpu_cores": cpu_cores,
                "accelerators": accelerators,
                "min_memory_mb": min_memory_mb,
                "initial_copy_count": initial_copy_count,
                "startup_health_check_timeout_s": startup_health_check_timeout_s,
                "model_data_download_timeout_s": model_data_download_timeout_s,
                "arn": None,
            },
            opts,
        )
