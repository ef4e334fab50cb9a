"""WebApp: Streamlit on ECS Fargate behind an ALB that only CloudFront can reach, Cognito sign-in
(OIDC for `st.login`) and a WAF rate limit.

Viewer -> CloudFront (HTTPS, WAF) -> ALB (CloudFront's prefix list + a secret origin header)
-> Fargate tasks in private subnets (no public IP) -> chat API function URL (SigV4, via NAT).

Built in two steps because of a true cycle: the chat API verifies Cognito tokens (it needs the
pool and the app client, whose callback URL is CloudFront's), and the app's tasks call the chat
API (they need its URL). The constructor builds the edge and Cognito; `serve()` adds the ECS
service once the chat API exists, and registers the component's outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from infra import cdn, cognito
from infra.cdn import ORIGIN_HEADER
from infra.iam import allow, assume_role_policy, policy_document
from infra.network import Network

APP_PORT = 8501
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
TASK_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


@dataclass
class WebAppArgs:
    region: str
    stack: str
    project_root: Path
    network: Network
    cpu: int = 512
    memory_mb: int = 1024
    min_tasks: int = 1
    max_tasks: int = 2
    mfa: str = "OPTIONAL"
    allow_self_signup: bool = False
    rate_limit_per_5min: int = 1000
    domain_name: str | None = None
    certificate_arn: str | None = None
    deletion_protection: bool = False
    log_retention_days: int = 30
    dockerfile: str = "streamlit_app/Dockerfile"


class WebApp(pulumi.ComponentResource):
    url: pulumi.Output[str]
    user_pool_id: pulumi.Output[str]
    user_pool_client_id: pulumi.Output[str]

    def __init__(self, name: str, args: WebAppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:web:WebApp", name, None, opts)
        self._name, self._args = name, args
        child = pulumi.ResourceOptions(parent=self)
        origin_secret = pulumi.Output.secret(
            aws.secretsmanager.get_random_password_output(
                password_length=40, exclude_punctuation=True, opts=pulumi.InvokeOutputOptions(parent=self)
            ).random_password
        )
        alb, target_group, listener = self._load_balancer(origin_secret)
        distribution = cdn.distribution(name, self, args, alb, origin_secret)
        host = pulumi.Output.from_input(args.domain_name) if args.domain_name else distribution.domain_name
        self.url = pulumi.Output.concat("https://", host)
        pool, client, domain = cognito.user_pool(name, self, args, host)
        auth_secret = aws.secretsmanager.Secret(
            f"{name}-auth-secret",
            description="Streamlit st.login: OIDC client secret and cookie secret",
            opts=child,
        )
        cookie_secret = aws.secretsmanager.get_random_password_output(
            password_length=48, exclude_punctuation=True, opts=pulumi.InvokeOutputOptions(parent=self)
        ).random_password
        aws.secretsmanager.SecretVersion(
            f"{name}-auth-secret-value",
            secret_id=auth_secret.id,
            secret_string=pulumi.Output.secret(
                pulumi.Output.json_dumps(
                    {"client_secret": client.client_secret, "cookie_secret": cookie_secret}
                )
            ),
            opts=child,
        )
        self._environment: dict[str, pulumi.Input[str]] = {
            "CHAT_API_AUTH": "aws_iam",
            "AWS_REGION": args.region,
            "AUTH_REDIRECT_URI": pulumi.Output.concat(self.url, "/oauth2callback"),
            "AUTH_CLIENT_ID": client.id,
            "AUTH_SERVER_METADATA_URL": pulumi.Output.concat(
                f"https://cognito-idp.{args.region}.amazonaws.com/",
                pool.id,
                "/.well-known/openid-configuration",
            ),
        }
        self._secrets: dict[str, pulumi.Input[str]] = {
            "AUTH_CLIENT_SECRET": pulumi.Output.concat(auth_secret.arn, ":client_secret::"),
            "AUTH_COOKIE_SECRET": pulumi.Output.concat(auth_secret.arn, ":cookie_secret::"),
        }
        self._target_group, self._listener, self._auth_secret = target_group, listener, auth_secret
        self._hosted_ui_domain, self._distribution_id = domain.domain, distribution.id
        self.user_pool_id = pool.id
        self.user_pool_client_id = client.id

    def serve(self, chat_function_arn: pulumi.Input[str], chat_function_url: pulumi.Input[str]) -> None:
        """Run the app's tasks, allowed to call this chat API only; completes the component."""
        self._service(
            chat_function_arn,
            {**self._environment, "CHAT_API_URL": chat_function_url},
        )
        self.register_outputs(
            {
                "url": self.url,
                "user_pool_id": self.user_pool_id,
                "user_pool_client_id": self.user_pool_client_id,
                "hosted_ui_domain": self._hosted_ui_domain,
                "distribution_id": self._distribution_id,
            }
        )

    def _load_balancer(
        self, origin_secret: pulumi.Output[str]
    ) -> tuple[aws.lb.LoadBalancer, aws.lb.TargetGroup, aws.lb.Listener]:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        cloudfront = aws.ec2.get_managed_prefix_list_output(
            name=CLOUDFRONT_PREFIX_LIST, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self.alb_security_group = aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            vpc_id=args.network.vpc_id,
            description="HTTP from CloudFront's origin-facing addresses only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=80, to_port=80, prefix_list_ids=[cloudfront.id]
                )
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp",
                    from_port=APP_PORT,
                    to_port=APP_PORT,
                    cidr_blocks=[args.network.cidr_block],
                )
            ],
            opts=child,
        )
        self.task_security_group = aws.ec2.SecurityGroup(
            f"{name}-task-sg",
            vpc_id=args.network.vpc_id,
            description="Streamlit tasks: from the ALB only; HTTPS out",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=APP_PORT,
                    to_port=APP_PORT,
                    security_groups=[self.alb_security_group.id],
                )
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"]
                )
            ],
            opts=child,
        )
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=args.network.public_subnet_ids,
            security_groups=[self.alb_security_group.id],
            drop_invalid_header_fields=True,
            idle_timeout=300,  # Streamlit keeps a websocket open per session
            opts=child,
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            port=APP_PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=args.network.vpc_id,
            health_check=aws.lb.TargetGroupHealthCheckArgs(path="/_stcore/health", matcher="200"),
            # A Streamlit session lives in one task: keep each browser on the task it started on.
            stickiness=aws.lb.TargetGroupStickinessArgs(
                type="lb_cookie", enabled=True, cookie_duration=86400
            ),
            opts=child,
        )
        listener = aws.lb.Listener(
            f"{name}-listener",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="fixed-response",
                    fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                        content_type="text/plain", status_code="403", message_body="Forbidden"
                    ),
                )
            ],
            opts=child,
        )
        # Only requests carrying CloudFront's secret header reach the app; the rest get the 403 above.
        aws.lb.ListenerRule(
            f"{name}-from-cloudfront",
            listener_arn=listener.arn,
            priority=1,
            conditions=[
                aws.lb.ListenerRuleConditionArgs(
                    http_header=aws.lb.ListenerRuleConditionHttpHeaderArgs(
                        http_header_name=ORIGIN_HEADER, values=[origin_secret]
                    )
                )
            ],
            actions=[aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=target_group.arn)],
            opts=child,
        )
        return alb, target_group, listener

    def _service(
        self, chat_function_arn: pulumi.Input[str], environment: dict[str, pulumi.Input[str]]
    ) -> None:
        name, args = self._name, self._args
        target_group, listener, auth_secret, secrets = (
            self._target_group,
            self._listener,
            self._auth_secret,
            self._secrets,
        )
        child = pulumi.ResourceOptions(parent=self)
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
            platform="linux/amd64",
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
            policy=policy_document([allow(["secretsmanager:GetSecretValue"], [auth_secret.arn])]),
            opts=child,
        )
        task_role = aws.iam.Role(
            f"{name}-task-role", assume_role_policy=assume_role_policy("ecs-tasks.amazonaws.com"), opts=child
        )
        aws.iam.RolePolicy(
            f"{name}-task-policy",
            role=task_role.id,
            # Since Oct 2025 a function URL with AWS_IAM needs both actions (REFERENCE.md).
            policy=policy_document(
                [allow(["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"], [chat_function_arn])]
            ),
            opts=child,
        )
        container = pulumi.Output.all(
            image=image.image_uri,
            log_group=log_group.name,
            environment=pulumi.Output.all(**environment),
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
            cpu=str(args.cpu),
            memory=str(args.memory_mb),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture="X86_64"
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
            desired_count=args.min_tasks,
            launch_type="FARGATE",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.network.private_subnet_ids,
                security_groups=[self.task_security_group.id],
                assign_public_ip=False,
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=target_group.arn, container_name="streamlit", container_port=APP_PORT
                )
            ],
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            health_check_grace_period_seconds=60,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[listener], ignore_changes=["desiredCount"]),
        )
        scaling = aws.appautoscaling.Target(
            f"{name}-scaling-target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            min_capacity=args.min_tasks,
            max_capacity=args.max_tasks,
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
