"""The packaging build: started once, waited for with a timeout, and a failure that fails the
deployment with the build's log link. Driven by a stand-in for boto3's CodeBuild client that
returns the API's own response shapes."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from infra.build.codebuild import BuildFailedError, CodeBuildRunProvider, run_build
from infra.config import PROJECT_ROOT

LOGS = "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEvent:group=/build;stream=1"


class FakeCodeBuild:
    """Answers start_build/batch_get_builds with a scripted sequence of build statuses."""

    def __init__(self, statuses: list[str], failed_phase: str = "BUILD"):
        self.statuses = statuses
        self.failed_phase = failed_phase
        self.started: list[str] = []
        self.stopped: list[str] = []

    def _build(self, status: str) -> dict[str, Any]:
        phases = [{"phaseType": "INSTALL", "phaseStatus": "SUCCEEDED"}]
        if status == "FAILED":
            phases.append({"phaseType": self.failed_phase, "phaseStatus": "FAILED"})
        return {"id": "proj:1", "buildStatus": status, "phases": phases, "logs": {"deepLink": LOGS}}

    def start_build(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs["projectName"])
        return {"build": self._build("IN_PROGRESS")}

    def batch_get_builds(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["ids"] == ["proj:1"]
        return {"builds": [self._build(self.statuses.pop(0))]}

    def stop_build(self, **kwargs: Any) -> dict[str, Any]:
        self.stopped.append(kwargs["id"])
        return {"build": self._build("STOPPED")}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_build_is_started_and_polled_until_it_succeeds():
    client, clock = FakeCodeBuild(["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]), Clock()
    build = run_build(client, "proj", timeout_s=600, poll_s=10, clock=clock, sleep=clock.sleep)
    assert build["buildStatus"] == "SUCCEEDED"
    assert client.started == ["proj"]
    assert clock.now == 30


def test_a_failed_build_fails_with_its_phase_and_log_link():
    client, clock = FakeCodeBuild(["FAILED"], failed_phase="BUILD"), Clock()
    with pytest.raises(BuildFailedError) as error:
        run_build(client, "proj", timeout_s=600, clock=clock, sleep=clock.sleep)
    assert "ended FAILED (failed phase: BUILD)" in str(error.value)
    assert LOGS in str(error.value)


def test_a_build_past_its_timeout_is_stopped_and_fails_with_its_log_link():
    client, clock = FakeCodeBuild(["IN_PROGRESS"] * 100), Clock()
    with pytest.raises(BuildFailedError, match=r"did not finish within 60 s and was stopped") as error:
        run_build(client, "proj", timeout_s=60, poll_s=15, clock=clock, sleep=clock.sleep)
    assert client.stopped == ["proj:1"]
    assert LOGS in str(error.value)


def test_a_new_source_means_a_new_build_and_other_changes_do_not():
    provider = CodeBuildRunProvider()
    olds = {
        "project_name": "p",
        "source_hash": "a",
        "artifact_uri": "s3://b/a/model.tar.gz",
        "timeout_minutes": 30,
    }
    assert provider.diff("id", olds, {**olds, "source_hash": "b"}).replaces == ["source_hash"]
    unchanged = provider.diff("id", olds, {**olds, "timeout_minutes": 45})
    assert unchanged.replaces == []
    assert not unchanged.changes


def test_the_provider_survives_pulumis_serialization_into_the_provider_host():
    """Pulumi pickles the provider with dill; its host (`python -m pulumi.dynamic`, run in the
    project folder) must be able to load it and find its create/diff methods."""
    blob = serialize_provider(CodeBuildRunProvider())
    script = (
        "import base64, sys, dill; p = dill.loads(base64.b64decode(sys.argv[1])); "
        "print(type(p).__name__, callable(p.create), callable(p.diff))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, blob], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["CodeBuildRunProvider", "True", "True"]


def test_the_build_calls_aws_with_the_stacks_profile_and_region(tmp_path, monkeypatch):
    # The dynamic provider runs in its own process: it sees neither aws:profile nor aws:region
    # unless the program hands them over.
    from infra.build.codebuild import codebuild_client

    (tmp_path / "config").write_text("[profile deployer]\nregion = ap-southeast-2\n")
    (tmp_path / "credentials").write_text(
        "[deployer]\naws_access_key_id = AKIADEPLOYER\naws_secret_access_key = deployer-secret\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIADEFAULT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "default-secret")
    client = codebuild_client({"region": "eu-west-1", "profile": "deployer"})
    assert client.meta.region_name == "eu-west-1"
    assert client._request_signer._credentials.access_key == "AKIADEPLOYER"
    assert codebuild_client(
        {"region": "eu-west-1", "profile": ""}
    )._request_signer._credentials.access_key == ("AKIADEFAULT")


def test_the_program_hands_the_profile_to_the_build(all_kinds):
    run = all_kinds
    # Every build run (the stack has one per custom-code model, beside other dynamic resources),
    # paired with its own role policy by name: the mocks register them in no fixed order.
    builds = [
        r
        for r in run.graph.resources
        if r.type.startswith("pulumi-python:dynamic") and r.name.endswith("-build-run")
    ]
    policies = {r.name: r for r in run.graph.of_type("aws:iam/rolePolicy:RolePolicy")}
    assert builds
    for build in builds:
        assert build.inputs["profile"] == "deployer"
        assert build.inputs["region"] == "us-east-1"
        policy = policies[build.name.removesuffix("-build-run") + "-build-policy"]
        assert policy.urn in build.dependencies, f"{build.name} must wait for its role's policy"
