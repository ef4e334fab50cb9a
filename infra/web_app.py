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

from infra.iam import allow, assume_role_policy, policy_document
from infra.network import Network

APP_PORT = 8501
ORIGIN_HEADER = "X-Origin-Verify"
#: AWS managed CloudFront policies (fixed ids): no caching, and every viewer header (the websocket
#: upgrade included) forwarded to the origin.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
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
        distribution = self._distribution(alb, origin_secret)
        host = pulumi.Output.from_input(args.domain_name) if args.domain_name else distribution.domain_name
        self.url = pulumi.Output.concat("https://", host)
        pool, client, domain = self._cognito(host)
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

    def _distribution(
        self, alb: aws.lb.LoadBalancer, origin_secret: pulumi.Output[str]
    ) -> aws.cloudfront.Distribution:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        if args.certificate_arn:
            certificate = aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=args.certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version="TLSv1.2_2021",
            )
        else:
            # With *.cloudfront.net CloudFront applies its TLSv1 policy whatever is asked (an AWS
            # limit); the cloudfront-tls rule fails this unless the stack waives it with a reason.
            certificate = aws.cloudfront.DistributionViewerCertificateArgs(
                cloudfront_default_certificate=True, minimum_protocol_version="TLSv1"
            )
        return aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class="PriceClass_100",
            aliases=[args.domain_name] if args.domain_name else None,
            web_acl_id=self._waf().arn,
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id="alb",
                    domain_name=alb.dns_name,
                    custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                        http_port=80,
                        https_port=443,
                        # The ALB has no certificate of its own (no domain for it): see docs/DEPLOY.md.
                        origin_protocol_policy="http-only",
                        origin_ssl_protocols=["TLSv1.2"],
                        origin_read_timeout=60,
                    ),
                    custom_headers=[
                        aws.cloudfront.DistributionOriginCustomHeaderArgs(
                            name=ORIGIN_HEADER, value=origin_secret
                        )
                    ],
                )
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id="alb",
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                cached_methods=["GET", "HEAD"],
                cache_policy_id=CACHING_DISABLED,
                origin_request_policy_id=ALL_VIEWER,
                compress=True,
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(
                    restriction_type="none"
                )
            ),
            viewer_certificate=certificate,
            opts=child,
        )

    def _waf(self) -> aws.wafv2.WebAcl:
        name, args = self._name, self._args
        # A CloudFront web ACL must live in us-east-1, whatever the stack's region.
        provider = (
            None
            if args.region == "us-east-1"
            else aws.Provider(
                f"{name}-us-east-1", region="us-east-1", opts=pulumi.ResourceOptions(parent=self)
            )
        )

        def visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgs:
            return aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
            )

        return aws.wafv2.WebAcl(
            f"{name}-waf",
            scope="CLOUDFRONT",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=[
                aws.wafv2.WebAclRuleArgs(
                    name="rate-limit-per-ip",
                    priority=1,
                    action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
                    statement=aws.wafv2.WebAclRuleStatementArgs(
                        rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                            limit=args.rate_limit_per_5min, aggregate_key_type="IP", evaluation_window_sec=300
                        )
                    ),
                    visibility_config=visibility("rate-limit-per-ip"),
                )
            ],
            visibility_config=visibility(f"{name}-waf"),
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )

    def _cognito(
        self, host: pulumi.Output[str]
    ) -> tuple[aws.cognito.UserPool, aws.cognito.UserPoolClient, aws.cognito.UserPoolDomain]:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        pool = aws.cognito.UserPool(
            f"{name}-users",
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
                temporary_password_validity_days=3,
            ),
            mfa_configuration=args.mfa,
            software_token_mfa_configuration=(
                aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True)
                if args.mfa != "OFF"
                else None
            ),
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(
                allow_admin_create_user_only=not args.allow_self_signup
            ),
            account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
                recovery_mechanisms=[
                    aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(
                        name="verified_email", priority=1
                    )
                ]
            ),
            deletion_protection="ACTIVE" if args.deletion_protection else "INACTIVE",
            opts=child,
        )
        client = aws.cognito.UserPoolClient(
            f"{name}-client",
            user_pool_id=pool.id,
            generate_secret=True,  # st.login is a confidential OIDC client (authorization code flow)
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],
            allowed_oauth_scopes=["openid", "email", "profile"],
            supported_identity_providers=["COGNITO"],
            callback_urls=[pulumi.Output.concat("https://", host, "/oauth2callback")],
            logout_urls=[pulumi.Output.concat("https://", host, "/")],
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            opts=child,
        )
        # Hosted-UI prefixes are global: derive one from the pool id, which is unique already.
        domain = aws.cognito.UserPoolDomain(
            f"{name}-login",
            user_pool_id=pool.id,
            domain=pool.id.apply(lambda pool_id: f"chatbot-{args.stack}-{pool_id.split('_')[-1].lower()}"),
            opts=child,
        )
        return pool, client, domain

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
