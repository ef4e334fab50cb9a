"""LargeLanguageModel: one SageMaker real-time endpoint for a ModelSpec, whatever its deployment kind.

The model's container comes from its kind's module (infra/models/, chosen by the deployment's class).
Every kind gets its own execution role (only what that kind needs), an endpoint config with a KMS
key and the startup health timeout, optional autoscaling, and a registry item (the row the chat API
reads from the models table; the ChatBackend that owns the table writes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from chatbot.models.spec import ModelSpec, inference_component_name
from infra.build.inference_image import InferenceImage
from infra.components import regional
from infra.components.iam import allow, assume_role_policy, policy_document
from infra.components.inference_component import InferenceComponent
from infra.models import Container, kind_of
from infra.models.base import registry_item

VARIANT = "AllTraffic"


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
    if not deployment.on_sagemaker:
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


class LargeLanguageModel(pulumi.ComponentResource):
    endpoint_name: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    registry_item: pulumi.Output[str]

    def __init__(self, name: str, args: LargeLanguageModelArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:llm:LargeLanguageModel", name, None, opts)
        self.resource_prefix = name
        self.args = args
        child = pulumi.ResourceOptions(parent=self)
        spec, deployment = args.spec, args.spec.deployment

        container = kind_of(deployment).container(self)

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
            enable_network_isolation=container.network_isolation,
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

    def _role_policy(self, container: Container) -> pulumi.Output[str]:
        region, endpoint = self.args.region, self.args.endpoint_name
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
                        if self.args.spec.deployment.scale_to_zero
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
        scaling = self.args.spec.deployment.autoscaling
        assert scaling is not None
        child = pulumi.ResourceOptions(parent=self)
        target = aws.appautoscaling.Target(
            f"{self.resource_prefix}-scaling-target",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=pulumi.Output.concat("endpoint/", endpoint.name, f"/variant/{VARIANT}"),
            min_capacity=scaling.min_instances,
            max_capacity=scaling.max_instances,
            opts=child,
        )
        aws.appautoscaling.Policy(
            f"{self.resource_prefix}-scaling-policy",
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
        name, args = self.resource_prefix, self.args
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
