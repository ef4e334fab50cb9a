"""LargeLanguageModel: one SageMaker real-time endpoint for a ModelSpec, whatever its deployment kind.

package        a model package ARN (per region), run with network isolation
container      an AWS-published TGI or LMI image (pinned per region) that downloads hf_model_id
custom-script  CodeBuild packs hf_model_id plus code_dir into model.tar.gz; the HF PyTorch image runs it
cpu-llamacpp   this project's inference/ image (llama.cpp) on a CPU instance: the cheap dev option

Every kind gets its own execution role (only what that kind needs), an endpoint config with a KMS
key and the startup health timeout, optional autoscaling, and a registry item (the row the chat API
reads from the models table; the ChatBackend that owns the table writes it).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from chatbot.errors import ConfigError
from chatbot.models import registry
from chatbot.models.spec import ModelSpec, inference_component_name
from infra import regional
from infra.codebuild import CodeBuildRun
from infra.iam import allow, assume_role_policy, policy_document
from infra.inference_component import InferenceComponent
from infra.inference_image import InferenceImage
from infra.storage import secure_bucket

VARIANT = "AllTraffic"
#: The CodeBuild image and the huggingface_hub CLI the packaging build uses, pinned.
CODEBUILD_IMAGE = "aws/codebuild/standard:7.0"
HF_HUB_REQUIREMENT = "huggingface_hub[cli]==0.26.2"


@dataclass
class LargeLanguageModelArgs:
    spec: ModelSpec
    region: str
    #: The SageMaker endpoint's name: the spec's endpoint_name made unique per stack.
    endpoint_name: str
    project_root: Path
    #: Required for kind cpu-llamacpp: the image built from inference/Dockerfile.
    inference_image: InferenceImage | None = None
    #: Destroy the custom-script code bucket with the stack (dev) or keep it (prod).
    force_destroy_buckets: bool = True
    #: The stack's `aws:profile`: the CodeBuild run (a dynamic provider) calls AWS with it.
    aws_profile: str | None = None
    #: Days every log group of this model keeps its logs: the endpoint's (SageMaker would make it
    #: with no retention) and the model build's.
    log_retention_days: int = 30
    #: The stack's one key for SageMaker storage volumes (VolumeKey); None: a key of its own.
    volume_key_arn: pulumi.Input[str] | None = None


def needs_volume_key(spec: ModelSpec) -> bool:
    """A SageMaker endpoint whose storage volume takes a KMS key (not a hardware-encrypted NVMe one)."""
    deployment = spec.deployment
    if deployment.kind == "bedrock":
        return False
    return deployment.serverless is not None or not regional.has_local_nvme(deployment.instance_type)


class VolumeKey(pulumi.ComponentResource):
    """One KMS key for every endpoint volume of a stack: a key costs $1 a month whether it
    encrypts one volume or ten, and SageMaker is its only user either way."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:llm:VolumeKey", name, None, opts)
        key = aws.kms.Key(
            f"{name}-key",
            description="Encrypts the storage volumes of this stack's SageMaker endpoints",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = key.arn
        self.register_outputs({"arn": self.arn})


@dataclass(frozen=True)
class _Container:
    image: pulumi.Input[str] | None
    environment: dict[str, str]
    #: ECR repositories the role may pull from (AWS's or ours).
    repository_arns: list[pulumi.Input[str]]
    model_data_url: pulumi.Input[str] | None = None
    model_package_name: str | None = None
    #: Extra statements for the execution role (e.g. reading model.tar.gz).
    statements: tuple[dict[str, Any], ...] = ()


class LargeLanguageModel(pulumi.ComponentResource):
    endpoint_name: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    registry_item: pulumi.Output[str]

    def __init__(self, name: str, args: LargeLanguageModelArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:llm:LargeLanguageModel", name, None, opts)
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        spec, deployment = args.spec, args.spec.deployment

        container = {
            "package": self._package,
            "container": self._hf_container,
            "custom-script": self._custom_script,
            "cpu-llamacpp": self._llamacpp,
        }[deployment.kind]()

        role = aws.iam.Role(
            f"{name}-execution-role",
            assume_role_policy=assume_role_policy("sagemaker.amazonaws.com"),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-execution-policy", role=role.id, policy=self._role_policy(container), opts=child
        )
        model = aws.sagemaker.Model(
            f"{name}-model",
            execution_role_arn=role.arn,
            primary_container=aws.sagemaker.ModelPrimaryContainerArgs(
                image=container.image,
                environment=container.environment or None,
                model_data_url=container.model_data_url,
                model_package_name=container.model_package_name,
            ),
            # A model package is third-party code: it must not reach the network.
            enable_network_isolation=deployment.kind == "package",
            # SageMaker checks the role's access to the image and model data when it creates the
            # model: the policy must exist first (the role alone is not enough).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        kms_key_arn = None
        if needs_volume_key(spec):
            kms_key_arn = args.volume_key_arn or VolumeKey(f"{name}-volume", child).arn
        if deployment.serverless is not None:
            # No instance: SageMaker starts compute per call (the health-check and download
            # timeouts are instance settings it refuses here).
            variant = aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                variant_name=VARIANT,
                model_name=model.name,
                serverless_config=aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                    memory_size_in_mb=deployment.serverless.memory_mb,
                    max_concurrency=deployment.serverless.max_concurrency,
                ),
            )
        elif deployment.scale_to_zero:
            # Instances for inference components: none at idle, up to initial_instance_count while
            # copies run. The model, and its start-up timeouts, belong to the component instead.
            variant = aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                variant_name=VARIANT,
                instance_type=deployment.instance_type,
                initial_instance_count=1,
                managed_instance_scaling=aws.sagemaker.EndpointConfigurationProductionVariantManagedInstanceScalingArgs(
                    status="ENABLED",
                    min_instance_count=0,
                    max_instance_count=deployment.initial_instance_count,
                ),
                routing_configs=[
                    aws.sagemaker.EndpointConfigurationProductionVariantRoutingConfigArgs(
                        routing_strategy="LEAST_OUTSTANDING_REQUESTS"
                    )
                ],
            )
        else:
            variant = aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                variant_name=VARIANT,
                model_name=model.name,
                instance_type=deployment.instance_type,
                initial_instance_count=deployment.initial_instance_count,
                container_startup_health_check_timeout_in_seconds=deployment.startup_health_check_timeout_s,
                model_data_download_timeout_in_seconds=deployment.model_data_download_timeout_s,
            )
        config = aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            production_variants=[variant],
            kms_key_arn=kms_key_arn,
            # An endpoint for inference components runs them with this role (a model-backed one
            # takes the model's).
            execution_role_arn=role.arn if deployment.scale_to_zero else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        # SageMaker writes to /aws/sagemaker/Endpoints/<name>, creating it with no retention
        # unless it exists: it is made first, with the stack's.
        endpoint_logs = aws.cloudwatch.LogGroup(
            f"{name}-endpoint-logs",
            name=f"/aws/sagemaker/Endpoints/{args.endpoint_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=args.endpoint_name,
            endpoint_config_name=config.name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[endpoint_logs]),
        )
        if deployment.autoscaling is not None:
            self._autoscaling(endpoint)
        if deployment.scale_to_zero:
            self._scale_to_zero(endpoint, model)

        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.registry_item = endpoint.name.apply(lambda deployed: registry_item(spec, deployed))
        self.register_outputs(
            {
                "endpoint_name": self.endpoint_name,
                "endpoint_arn": self.endpoint_arn,
                "registry_item": self.registry_item,
            }
        )

    # --- one method per kind -------------------------------------------------------------------

    def _package(self) -> _Container:
        arns = self._args.spec.deployment.model_package_arns
        if self._args.region not in arns:
            raise ConfigError(
                f"model {self._args.spec.name!r}: deployment.model_package_arns has no ARN for "
                f"{self._args.region} (it has {', '.join(arns) or 'none'})"
            )
        return _Container(
            image=None, environment={}, repository_arns=[], model_package_name=arns[self._args.region]
        )

    def _hf_container(self) -> _Container:
        spec, deployment, region = self._args.spec, self._args.spec.deployment, self._args.region
        family = deployment.image or ""
        if family in regional.IMAGE_FAMILIES:
            image = regional.image_uri(family, region, deployment.image_version)
            repository = regional.image_repository_arn(family, region)
        else:  # a full image URI: account.dkr.ecr.region.amazonaws.com/repo:tag
            image, repository = family, _repository_arn_from_uri(family)
        prompt_tokens = spec.context_window - spec.max_new_tokens_limit
        env = {
            "lmi": {
                "HF_MODEL_ID": deployment.hf_model_id or "",
                "OPTION_ROLLING_BATCH": "vllm",
                "OPTION_MAX_MODEL_LEN": str(spec.context_window),
                "TENSOR_PARALLEL_DEGREE": "max",
            },
        }.get(
            family,
            {
                "HF_MODEL_ID": deployment.hf_model_id or "",
                "SM_NUM_GPUS": "1",
                "MAX_INPUT_TOKENS": str(prompt_tokens),
                "MAX_TOTAL_TOKENS": str(spec.context_window),
            },
        )
        return _Container(image=image, environment={**env, **deployment.env}, repository_arns=[repository])

    def _custom_script(self) -> _Container:
        name, args = self._name, self._args
        spec, deployment = args.spec, args.spec.deployment
        child = pulumi.ResourceOptions(parent=self)
        code_dir = args.project_root / (deployment.code_dir or "")
        source_hash = _hash_folder(code_dir, extra=deployment.hf_model_id or "")
        bucket = secure_bucket(f"{name}-code", self, force_destroy=args.force_destroy_buckets)
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
                        value=image_python_version(
                            deployment.image or "hf-pytorch-cpu", deployment.image_version
                        ),
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=[source, build_policy, project]),
        )
        image_family = deployment.image or "hf-pytorch-cpu"
        return _Container(
            image=regional.image_uri(image_family, args.region, deployment.image_version),
            environment={"SAGEMAKER_PROGRAM": "inference.py", "HF_TASK": _hf_task(spec), **deployment.env},
            repository_arns=[regional.image_repository_arn(image_family, args.region)],
            model_data_url=run.artifact_uri,
            statements=(allow(["s3:GetObject"], [pulumi.Output.concat(bucket.arn, "/artifacts/*")]),),
        )

    def _llamacpp(self) -> _Container:
        image = self._args.inference_image
        if image is None:
            raise ValueError("kind cpu-llamacpp needs LargeLanguageModelArgs.inference_image")
        # The image serves models.yaml; this endpoint serves only this model from it.
        return _Container(
            image=image.image_uri,
            environment={"INFERENCE_MODELS": self._args.spec.name, **self._args.spec.deployment.env},
            repository_arns=[image.repository_arn],
        )

    # --- shared ------------------------------------------------------------------------------

    def _role_policy(self, container: _Container) -> pulumi.Output[str]:
        region, endpoint = self._args.region, self._args.endpoint_name
        statements = [
            allow(
                [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                [
                    f"arn:aws:logs:{region}:*:log-group:/aws/sagemaker/Endpoints/{endpoint}*",
                    # An inference component (scale_to_zero) logs to a group of its own.
                    *(
                        [
                            f"arn:aws:logs:{region}:*:log-group:/aws/sagemaker/InferenceComponents/"
                            f"{inference_component_name(endpoint)}*"
                        ]
                        if self._args.spec.deployment.scale_to_zero
                        else []
                    ),
                ],
            ),
            allow(
                ["cloudwatch:PutMetricData"],
                ["*"],  # metrics have no ARN; the condition pins the namespace instead
                {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints*", "AWS/SageMaker"]}},
            ),
            *container.statements,
        ]
        if container.repository_arns:
            statements += [
                # GetAuthorizationToken has no resource to scope to: it only returns a login token.
                allow(["ecr:GetAuthorizationToken"], ["*"]),
                allow(
                    ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                    container.repository_arns,
                ),
            ]
        return policy_document(statements)

    def _autoscaling(self, endpoint: aws.sagemaker.Endpoint) -> None:
        scaling = self._args.spec.deployment.autoscaling
        assert scaling is not None
        child = pulumi.ResourceOptions(parent=self)
        target = aws.appautoscaling.Target(
            f"{self._name}-scaling-target",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=pulumi.Output.concat("endpoint/", endpoint.name, f"/variant/{VARIANT}"),
            min_capacity=scaling.min_instances,
            max_capacity=scaling.max_instances,
            opts=child,
        )
        aws.appautoscaling.Policy(
            f"{self._name}-scaling-policy",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=scaling.target_invocations_per_instance,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                ),
                scale_in_cooldown=scaling.scale_in_cooldown_s,
                scale_out_cooldown=scaling.scale_out_cooldown_s,
            ),
            opts=child,
        )

    def _scale_to_zero(self, endpoint: aws.sagemaker.Endpoint, model: aws.sagemaker.Model) -> None:
        """The model as an inference component with 0 to initial_instance_count copies: a target-
        tracking policy scales copies (to 0 when idle), and a step policy on an alarm over
        NoCapacityInvocationFailures adds the first copy when a request finds none."""
        name, args = self._name, self._args
        deployment = args.spec.deployment
        child = pulumi.ResourceOptions(parent=self)
        component_name = inference_component_name(args.endpoint_name)
        gpus = accelerators_for(deployment.instance_type)
        # Like the endpoint's: SageMaker would make it with no retention.
        component_logs = aws.cloudwatch.LogGroup(
            f"{name}-component-logs",
            name=f"/aws/sagemaker/InferenceComponents/{component_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        component = InferenceComponent(
            f"{name}-inference-component",
            component_name=component_name,
            endpoint_name=endpoint.name,
            variant_name=VARIANT,
            model_name=model.name,
            region=args.region,
            profile=args.aws_profile,
            cpu_cores=0 if gpus else 1,
            accelerators=gpus,
            min_memory_mb=SCALE_TO_ZERO_MIN_MEMORY_MB,
            startup_health_check_timeout_s=deployment.startup_health_check_timeout_s,
            model_data_download_timeout_s=deployment.model_data_download_timeout_s,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[endpoint, component_logs]),
        )
        target = aws.appautoscaling.Target(
            f"{name}-copies-target",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:inference-component:DesiredCopyCount",
            resource_id=f"inference-component/{component_name}",
            min_capacity=0,
            max_capacity=deployment.initial_instance_count,
            # The name is known now; the component must exist before it can be registered.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[component]),
        )
        aws.appautoscaling.Policy(
            f"{name}-copies-tracking",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=SCALE_TO_ZERO_CONCURRENCY_PER_COPY,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
                ),
                scale_in_cooldown=SCALE_TO_ZERO_IDLE_S,
                scale_out_cooldown=60,
            ),
            opts=child,
        )
        from_zero = aws.appautoscaling.Policy(
            f"{name}-copies-from-zero",
            policy_type="StepScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            step_scaling_policy_configuration=aws.appautoscaling.PolicyStepScalingPolicyConfigurationArgs(
                adjustment_type="ChangeInCapacity",
                metric_aggregation_type="Maximum",
                cooldown=60,
                step_adjustments=[
                    aws.appautoscaling.PolicyStepScalingPolicyConfigurationStepAdjustmentArgs(
                        metric_interval_lower_bound="0", scaling_adjustment=1
                    )
                ],
            ),
            opts=child,
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-no-capacity",
            name=f"{args.endpoint_name}-no-capacity",
            alarm_description=f"A request to {args.spec.name} found no copy running: start one",
            namespace="AWS/SageMaker",
            metric_name="NoCapacityInvocationFailures",
            dimensions={"InferenceComponentName": component_name},
            statistic="Maximum",
            # A standard alarm ($0.10 a month; under 60 s is a high-resolution one at $0.30): a
            # minute more on a cold start that takes minutes anyway.
            period=60,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="missing",
            alarm_actions=[from_zero.arn],
            opts=child,
        )


#: What each copy of a scale-to-zero model reserves on its instance (SageMaker places copies by it).
SCALE_TO_ZERO_MIN_MEMORY_MB = 1024
#: Concurrent requests per copy above which another copy starts.
SCALE_TO_ZERO_CONCURRENCY_PER_COPY = 4.0
#: Idle seconds before copies scale in (to 0, and then the instance goes).
SCALE_TO_ZERO_IDLE_S = 900


def accelerators_for(instance_type: str) -> int:
    """GPUs a copy asks for: 1 on a GPU family (ml.g*, ml.p*), none on CPU instances."""
    family = instance_type.split(".")[1] if instance_type.count(".") >= 2 else ""
    return 1 if family[:1] in ("g", "p") else 0


def registry_item(spec: ModelSpec, deployed_endpoint_name: str) -> str:
    """The models-table row, in DynamoDB JSON: the registry's own item (chatbot/models/registry.py)
    for the spec with its deployed endpoint name."""
    deployed = spec.model_copy(update={"endpoint_name": deployed_endpoint_name})
    return registry.as_dynamodb_json(registry.registry_item(deployed))


def image_python_version(family: str, version: str | None) -> str:
    """The Python of an AWS-published image, from its tag (`...-cpu-py310-ubuntu22.04` -> 3.10);
    3.10 for an image URI of its own."""
    if family not in regional.IMAGE_FAMILIES:
        return "3.10"
    tags = regional.IMAGE_FAMILIES[family].tags
    tag = tags.get(version or "", next(iter(tags.values())))
    match = re.search(r"-py(\d)(\d+)", tag)
    return f"{match[1]}.{match[2]}" if match else "3.10"


def _hf_task(spec: ModelSpec) -> str:
    return {"chat": "text-generation", "embedding": "feature-extraction", "rerank": "text-classification"}[
        spec.task
    ]


def _hash_folder(folder: Path, extra: str = "") -> str:
    """A short content hash: a changed file (or model id) means a new build and a new artifact key."""
    digest = hashlib.sha256(extra.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _repository_arn_from_uri(uri: str) -> str:
    host, _, repository = uri.partition("/")
    account, _, rest = host.partition(".dkr.ecr.")
    region = rest.split(".")[0]
    return f"arn:aws:ecr:{region}:{account}:repository/{repository.split(':')[0].split('@')[0]}"


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
