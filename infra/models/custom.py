"""kind custom-script: CodeBuild packs hf_model_id plus this project's code_dir into model.tar.gz,
and the Hugging Face PyTorch image runs its inference.py. The embeddings kind builds the same way."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from chatbot.errors import ConfigError
from chatbot.models.spec import ModelSpec
from infra.build.codebuild import CodeBuildRun
from infra.components import regional
from infra.components.iam import allow, assume_role_policy, policy_document
from infra.components.storage import secure_bucket
from infra.models.base import Container, Site

if TYPE_CHECKING:
    from infra.components.llm import LargeLanguageModel

#: The CodeBuild image and the huggingface_hub CLI the packaging build uses, pinned.
CODEBUILD_IMAGE = "aws/codebuild/standard:7.0"
HF_HUB_REQUIREMENT = "huggingface_hub[cli]==0.26.2"
#: The image family the packed code runs on unless the deployment names one.
DEFAULT_IMAGE = "hf-pytorch-cpu"


def check(spec: ModelSpec, site: Site) -> None:
    code_dir = spec.deployment.code_dir
    if not (site.root / (code_dir or "")).is_dir():
        raise ConfigError(f"{site.where}.code_dir: folder {code_dir!r} not found under {site.root}")


def container(llm: LargeLanguageModel) -> Container:
    name, args = llm.resource_prefix, llm.args
    spec, deployment = args.spec, args.spec.deployment
    child = pulumi.ResourceOptions(parent=llm)
    code_dir = args.project_root / (deployment.code_dir or "")
    source_hash = hash_folder(code_dir, extra=deployment.hf_model_id or "")
    bucket = secure_bucket(f"{name}-code", llm, force_destroy=args.force_destroy_buckets)
    source_key = f"source/{source_hash}.zip"
    source = aws.s3.BucketObjectv2(
        f"{name}-source",
        bucket=bucket.id,
        key=source_key,
        source=pulumi.FileArchive(str(code_dir)),
        opts=child,
    )
    artifact_key = f"artifacts/{source_hash}/model.tar.gz"
    artifact_uri = pulumi.Output.concat("s3://", bucket.bucket, "/", artifact_key)
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-build-logs", retention_in_days=args.log_retention_days, opts=child
    )
    build_role = aws.iam.Role(
        f"{name}-build-role", assume_role_policy=assume_role_policy("codebuild.amazonaws.com"), opts=child
    )
    build_policy = aws.iam.RolePolicy(
        f"{name}-build-policy",
        role=build_role.id,
        policy=policy_document(
            [
                allow(
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [pulumi.Output.concat(log_group.arn, ":*")],
                ),
                allow(
                    ["s3:GetObject", "s3:GetObjectVersion"],
                    [pulumi.Output.concat(bucket.arn, "/source/*")],
                ),
                allow(["s3:PutObject"], [pulumi.Output.concat(bucket.arn, "/artifacts/*")]),
            ]
        ),
        opts=child,
    )
    image_family = deployment.image or DEFAULT_IMAGE
    project = aws.codebuild.Project(
        f"{name}-build",
        service_role=build_role.arn,
        build_timeout=deployment.build_timeout_minutes,
        source=aws.codebuild.ProjectSourceArgs(
            type="S3", location=pulumi.Output.concat(bucket.bucket, "/", source_key), buildspec=BUILDSPEC
        ),
        artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
        environment=aws.codebuild.ProjectEnvironmentArgs(
            compute_type="BUILD_GENERAL1_MEDIUM",
            image=CODEBUILD_IMAGE,
            type="LINUX_CONTAINER",
            environment_variables=[
                aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(
                    name="HF_MODEL_ID", value=deployment.hf_model_id or ""
                ),
                aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(
                    name="ARTIFACT_URI", value=artifact_uri
                ),
                aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(
                    name="HF_HUB_REQUIREMENT", value=HF_HUB_REQUIREMENT
                ),
                # code/requirements.lock is installed for the serving image's Python.
                aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(
                    name="IMAGE_PYTHON_VERSION",
                    value=image_python_version(image_family, deployment.image_version),
                ),
            ],
        ),
        logs_config=aws.codebuild.ProjectLogsConfigArgs(
            cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(group_name=log_group.name)
        ),
        opts=child,
    )
    run = CodeBuildRun(
        f"{name}-build-run",
        project_name=project.name,
        region=args.region,
        profile=args.aws_profile,
        source_hash=source_hash,
        artifact_uri=artifact_uri,
        timeout_minutes=deployment.build_timeout_minutes,
        # The build runs as its role at once: the role's policy must exist before it starts.
        opts=pulumi.ResourceOptions(parent=llm, depends_on=[source, build_policy, project]),
    )
    return Container(
        image=regional.image_uri(image_family, args.region, deployment.image_version),
        environment={"SAGEMAKER_PROGRAM": "inference.py", "HF_TASK": hf_task(spec), **deployment.env},
        repository_arns=[regional.image_repository_arn(image_family, args.region)],
        model_data_url=run.artifact_uri,
        statements=(allow(["s3:GetObject"], [pulumi.Output.concat(bucket.arn, "/artifacts/*")]),),
    )


def image_python_version(family: str, version: str | None) -> str:
    """The Python of an AWS-published image, from its tag (`...-cpu-py310-ubuntu22.04` -> 3.10);
    3.10 for an image URI of its own."""
    if family not in regional.IMAGE_FAMILIES:
        return "3.10"
    tags = regional.IMAGE_FAMILIES[family].tags
    tag = tags.get(version or "", next(iter(tags.values())))
    match = re.search(r"-py(\d)(\d+)", tag)
    return f"{match[1]}.{match[2]}" if match else "3.10"


def hf_task(spec: ModelSpec) -> str:
    return {"chat": "text-generation", "embedding": "feature-extraction", "rerank": "text-classification"}[
        spec.task
    ]


def hash_folder(folder: Path, extra: str = "") -> str:
    """A short content hash: a changed file (or model id) means a new build and a new artifact key."""
    digest = hashlib.sha256(extra.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


#: Weights in formats the PyTorch image never loads (TensorFlow, Flax, ONNX, OpenVINO, Rust's
#: rust_model.ot): left out of model.tar.gz, which SageMaker downloads at every cold start.
UNUSED_WEIGHTS = ("*.bin", "*.h5", "*.onnx", "*.msgpack", "*.ot", "onnx/*", "openvino/*")
#: Runs in CodeBuild with the code folder as its source: fetch the model, add code/, bake in the
#: code's dependencies (code/requirements.lock into code/lib, for the image's Python and
#: platform), upload. Without code/requirements.txt in the artefact, the Hugging Face inference
#: toolkit installs nothing at start-up: a pip install there spent most of a serverless
#: invocation's 60 s on each cold start.
BUILDSPEC = f"""version: 0.2
phases:
  install:
    commands:
      - pip install --quiet "$HF_HUB_REQUIREMENT"
  build:
    commands:
      - mkdir -p /tmp/model/code
      - huggingface-cli download "$HF_MODEL_ID" --local-dir /tmp/model --exclude {" ".join(f'"{p}"' for p in UNUSED_WEIGHTS)}
      - cp -r "$CODEBUILD_SRC_DIR"/. /tmp/model/code/
      - >-
        if [ -f /tmp/model/code/requirements.lock ]; then
        pip install --quiet --no-deps --only-binary=:all: --implementation cp
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
        --python-version "$IMAGE_PYTHON_VERSION" --target /tmp/model/code/lib
        -r /tmp/model/code/requirements.lock
        && rm -f /tmp/model/code/requirements.txt /tmp/model/code/requirements.lock; fi
      - tar -czf /tmp/model.tar.gz -C /tmp/model .
      - aws s3 cp /tmp/model.tar.gz "$ARTIFACT_URI"
"""
