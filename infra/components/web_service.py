"""WebService: the Streamlit app's tasks on ECS Fargate, in private subnets with no public IP,
behind the WebEdge's target group, allowed to call this stack's chat API and nothing else.
Complete when constructed; build_stack builds it after the edge and the ChatBackend."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from infra.components.iam import allow, assume_role_policy, policy_document
from infra.components.network import Network
from infra.components.web_edge import APP_PORT, WebEdge
from infra.config import WebConfig
from streamlit_app.settings import UiSettings

TASK_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


#: Fargate's CPU architecture -> Docker's platform name for the image built for it.
DOCKER_PLATFORMS = {"x86_64": "amd64", "arm64": "arm64"}


@dataclass
class WebServiceArgs:
    region: str
    stack: str
    project_root: Path
    network: Network
    edge: WebEdge
    chat_function_arn: pulumi.Input[str]
    chat_function_url: pulumi.Input[str]
    #: The OpenAI-compatible gateway's base URL (the Settings page shows it); None: no gateway.
    gateway_url: pulumi.Input[str] | None = None
    #: The stack's chatbot:web section (the tasks' CPU, memory, count and architecture).
    config: WebConfig = field(default_factory=WebConfig)
    deletion_protection: bool = False
    log_retention_days: int = 30
    dockerfile: str = "streamlit_app/Dockerfile"


class WebService(pulumi.ComponentResource):
    def __init__(self, name: str, args: WebServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:web:WebService", name, None, opts)
        self._name, self._args = name, args
        edge = args.edge
        environment = pulumi.Output.all(
            settings=edge.settings, url=args.chat_function_url, gateway=args.gateway_url
        ).apply(
            lambda resolved: UiSettings(
                **resolved["settings"].model_dump(exclude_unset=True),
                chat_api_url=resolved["url"],
                gateway_url=resolved["gateway"],
            ).to_env()
        )
        # The task reads these from Secrets Manager at start (never as plain values).
        secrets: dict[str, pulumi.Input[str]] = {
            UiSettings.variable("auth_client_secret"): pulumi.Output.concat(
                edge.auth_secret_arn, ":client_secret::"
            ),
            UiSettings.variable("auth_cookie_secret"): pulumi.Output.concat(
                edge.auth_secret_arn, ":cookie_secret::"
            ),
        }
        service = self._service(environment, secrets)
        self.register_outputs({"service_name": service.name})

    def _service(
        self, environment: pulumi.Output[dict[str, str]], secrets: dict[str, pulumi.Input[str]]
    ) -> aws.ecs.Service:
        name, args = self._name, self._args
        edge = args.edge
        chat_function_arn = args.chat_function_arn
        child = pulumi.ResourceOptions(parent=self)
        task_security_group = aws.ec2.SecurityGroup(
            f"{name}-task-sg",
            vpc_id=args.network.vpc_id,
            description="Streamlit tasks: from the ALB only; HTTPS out",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=APP_PORT,
                    to_port=APP_PORT,
                    security_groups=[edge.alb_security_group_id],
                )
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"]
                )
            ],
            opts=child,
        )
        repository = aws.ecr.Repository(
            f"{name}-repo",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")],
            force_delete=not args.deletion_protection,
            opts=child,
        )
        image = awsx.ecr.Image(
            f"{name}-image",
            repository_url=repository.repository_url,
            context=str(args.project_root),
            dockerfile=str(args.project_root / args.dockerfile),
            platform=f"linux/{DOCKER_PLATFORMS[args.config.architecture]}",
            opts=child,
        )
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", retention_in_days=args.log_retention_days, opts=child
        )
        execution_role = aws.iam.Role(
            f"{name}-execution-role",
            assume_role_policy=assume_role_policy("ecs-tasks.amazonaws.com"),
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-execution-managed",
            role=execution_role.name,
            policy_arn=TASK_EXECUTION_POLICY,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-execution-secrets",
            role=execution_role.id,
            policy=policy_document([allow(["secretsmanager:GetSecretValue"], [edge.auth_secret_arn])]),
            opts=child,
        )
        task_role = aws.iam.Role(
            f"{name}-task-role", assume_role_policy=assume_role_policy("ecs-tasks.amazonaws.com"), opts=child
        )
        aws.iam.RolePolicy(
            f"{name}-task-policy",
            role=task_role.id,
            # Since Oct 2025 a function URL with AWS_IAM needs both actions (docs/REFERENCE.md).
            policy=policy_document(
                [allow(["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"], [chat_function_arn])]
            ),
            opts=child,
        )
        container = pulumi.Output.all(
            image=image.image_uri,
            log_group=log_group.name,
            environment=environment,
            secrets=pulumi.Output.all(**secrets),
        ).apply(
            lambda resolved: json.dumps(
                [
                    {
                        "name": "streamlit",
                        "image": resolved["image"],
                        "essential": True,
                        "portMappings": [{"containerPort": APP_PORT, "protocol": "tcp"}],
                        "environment": [
                            {"name": k, "value": v} for k, v in sorted(resolved["environment"].items())
                        ],
                        "secrets": [
                            {"name": k, "valueFrom": v} for k, v in sorted(resolved["secrets"].items())
                        ],
                        "logConfiguration": {
                            "logDriver": "awslogs",
                            "options": {
                                "awslogs-group": resolved["log_group"],
                                "awslogs-region": args.region,
                                "awslogs-stream-prefix": "streamlit",
                            },
                        },
                    }
                ]
            )
        )
        task = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=f"chatbot-{args.stack}-web",
            cpu=str(args.config.cpu),
            memory=str(args.config.memory_mb),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture=args.config.architecture.upper()
            ),
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            container_definitions=container,
            opts=child,
        )
        service = aws.ecs.Service(
            f"{name}-service",
            cluster=cluster.arn,
            task_definition=task.arn,
            desired_count=args.config.min_tasks,
            launch_type="FARGATE",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.network.private_subnet_ids,
                security_groups=[task_security_group.id],
                assign_public_ip=False,
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=edge.target_group_arn,
                    container_name="streamlit",
                    container_port=APP_PORT,
                )
            ],
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            health_check_grace_period_seconds=60,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[edge.forward_rule], ignore_changes=["desiredCount"]
            ),
        )
        scaling = aws.appautoscaling.Target(
            f"{name}-scaling-target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            min_capacity=args.config.min_tasks,
            max_capacity=args.config.max_tasks,
            opts=child,
        )
        aws.appautoscaling.Policy(
            f"{name}-scaling-cpu",
            policy_type="TargetTrackingScaling",
            service_namespace=scaling.service_namespace,
            scalable_dimension=scaling.scalable_dimension,
            resource_id=scaling.resource_id,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=60,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ECSServiceAverageCPUUtilization"
                ),
                scale_in_cooldown=300,
                scale_out_cooldown=60,
            ),
            opts=child,
        )
        return service
