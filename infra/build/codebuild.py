"""A `pulumi.dynamic` resource that runs a CodeBuild project once and waits for it.

The custom-script kind needs `model.tar.gz` in S3 before SageMaker can create the model. CodeBuild
builds it (download the Hugging Face repo, add the inference code, upload); this resource starts the
build on create (and again when the source changes), polls it, and fails the deployment with the
build's log link when the build fails or runs past its timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

#: Inputs that mean "a different artifact": changing one starts a new build.
REBUILD_ON = ("project_name", "source_hash", "artifact_uri")
_DONE = {"SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"}


class BuildFailedError(RuntimeError):
    """The packaging build did not succeed; the message carries its status and log link."""


class CodeBuildClient(Protocol):
    def start_build(self, **kwargs: Any) -> dict[str, Any]: ...
    def batch_get_builds(self, **kwargs: Any) -> dict[str, Any]: ...
    def stop_build(self, **kwargs: Any) -> dict[str, Any]: ...


def run_build(
    client: CodeBuildClient,
    project_name: str,
    *,
    timeout_s: float,
    poll_s: float = 15.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Start a build of `project_name` and wait for it; returns the finished build.

    Raises BuildFailedError with the build's status and CloudWatch log link when it fails,
    and stops the build first when it runs past `timeout_s`."""
    build = client.start_build(projectName=project_name)["build"]
    deadline = clock() + timeout_s
    while build.get("buildStatus", "IN_PROGRESS") not in _DONE:
        if clock() >= deadline:
            client.stop_build(id=build["id"])
            raise BuildFailedError(
                f"CodeBuild {project_name} build {build['id']} did not finish within {timeout_s:.0f} s "
                f"and was stopped. Logs: {_log_link(build)}"
            )
        sleep(poll_s)
        build = client.batch_get_builds(ids=[build["id"]])["builds"][0]
    if build["buildStatus"] != "SUCCEEDED":
        failed_phase = next(
            (phase["phaseType"] for phase in build.get("phases", []) if phase.get("phaseStatus") == "FAILED"),
            "?",
        )
        raise BuildFailedError(
            f"CodeBuild {project_name} build {build['id']} ended {build['buildStatus']} "
            f"(failed phase: {failed_phase}). Logs: {_log_link(build)}"
        )
    return build


def _log_link(build: dict[str, Any]) -> str:
    return build.get("logs", {}).get("deepLink") or "(no log link: see the CodeBuild console)"


class CodeBuildRunProvider(ResourceProvider):
    """Runs in Pulumi's dynamic-provider host at deploy time; imports boto3 there, not at program time."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        build = self._build(props)
        return CreateResult(id_=build["id"], outs={**props, "build_id": build["id"]})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in REBUILD_ON if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**_olds, **news})

    def _build(self, props: dict[str, Any]) -> dict[str, Any]:
        client = codebuild_client(props)
        return run_build(client, props["project_name"], timeout_s=float(props["timeout_minutes"]) * 60)


def codebuild_client(props: dict[str, Any]) -> Any:
    """A CodeBuild client for the stack's account and region: a dynamic provider runs in its own
    process and sees neither the aws provider's `aws:profile` nor its region unless told."""
    import boto3  # deploy time only

    session = boto3.Session(profile_name=props.get("profile") or None, region_name=props["region"])
    return session.client("codebuild")


class CodeBuildRun(Resource):
    """One finished build of a CodeBuild project: its outputs exist only if the build succeeded."""

    build_id: pulumi.Output[str]
    artifact_uri: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        project_name: pulumi.Input[str],
        region: str,
        profile: str | None = None,
        source_hash: str,
        artifact_uri: pulumi.Input[str],
        timeout_minutes: int,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(
            CodeBuildRunProvider(),
            name,
            {
                "project_name": project_name,
                "region": region,
                "profile": profile or "",
                "source_hash": source_hash,
                "artifact_uri": artifact_uri,
                "timeout_minutes": timeout_minutes,
                "build_id": None,
            },
            opts,
        )
