"""WebEdge: everything a viewer meets before the Streamlit tasks, complete when constructed.

Viewer -> CloudFront (HTTPS, WAF) -> ALB (CloudFront's prefix list + a secret origin header)
-> the target group the WebService's tasks join. Cognito signs users in (OIDC for `st.login`);
its client secret and the cookie secret wait in Secrets Manager for the tasks.

build_stack wires it as pulumi/examples does: the edge first (the chat API verifies its Cognito
tokens), then the ChatBackend, then the WebService (which calls the chat API).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random

from infra.components import cdn, cognito
from infra.components.cdn import ORIGIN_HEADER
from infra.components.network import Network
from infra.config import SsoConfig, WebConfig
from streamlit_app.settings import UiSettings

APP_PORT = 8501
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"


@dataclass
class WebEdgeArgs:
    region: str
    stack: str
    network: Network
    #: The stack's chatbot:web section (sign-in, WAF rates, the custom domain, the gateway).
    config: WebConfig = field(default_factory=WebConfig)
    deletion_protection: bool = False
    #: The stack's `aws:profile`, for the us-east-1 provider of the web ACL.
    aws_profile: str | None = None
    #: An external identity provider for the user pool (chatbot:sso), or None.
    sso: SsoConfig | None = None
    #: For the SSO trigger's log group.
    log_retention_days: int = 30


def random_secret(name: str, length: int, parent: pulumi.Resource) -> pulumi.Output[str]:
    """A random value drawn once and kept in the stack's state (a secret there). A resource, not
    the get_random_password data source, which draws anew on every preview and up (the ALB would
    answer 403 until CloudFront caught up)."""
    password = pulumi_random.RandomPassword(
        name, length=length, special=False, opts=pulumi.ResourceOptions(parent=parent)
    )
    return pulumi.Output.secret(password.result)


class WebEdge(pulumi.ComponentResource):
    url: pulumi.Output[str]
    user_pool_id: pulumi.Output[str]
    user_pool_client_id: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    alb_security_group_id: pulumi.Output[str]
    auth_secret_arn: pulumi.Output[str]
    #: The app's settings as far as the edge knows them (the chat API's URL comes later).
    settings: pulumi.Output[UiSettings]

    def __init__(self, name: str, args: WebEdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:web:WebEdge", name, None, opts)
        self._name, self._args = name, args
        child = pulumi.ResourceOptions(parent=self)
        origin_secret = random_secret(f"{name}-origin-secret", 40, self)
        alb, target_group, forward_rule = self._load_balancer(origin_secret)
        acl = cdn.web_acl(
            name,
            self,
            region=args.region,
            rate_limit_per_5min=args.config.rate_limit_per_5min,
            gateway_rate_limit_per_5min=args.config.gateway_rate_limit_per_5min
            if args.config.gateway
            else None,
            aws_profile=args.aws_profile,
        )
        #: The gateway's distribution (built after the chat API) sits behind the same ACL.
        self.web_acl_arn = acl.arn
        distribution = cdn.distribution(
            name,
            self,
            alb,
            origin_secret,
            web_acl_arn=acl.arn,
            domain_name=args.config.domain_name,
            certificate_arn=args.config.certificate_arn,
        )
        host = (
            pulumi.Output.from_input(args.config.domain_name)
            if args.config.domain_name
            else distribution.domain_name
        )
        self.url = pulumi.Output.concat("https://", host)
        pool, client, domain = cognito.user_pool(
            name,
            self,
            host,
            stack=args.stack,
            mfa=args.config.mfa,
            allow_self_signup=args.config.allow_self_signup,
            deletion_protection=args.deletion_protection,
            sso=args.sso,
            log_retention_days=args.log_retention_days,
        )
        auth_secret = aws.secretsmanager.Secret(
            f"{name}-auth-secret",
            description="Streamlit st.login: OIDC client secret and cookie secret",
            opts=child,
        )
        cookie_secret = random_secret(f"{name}-cookie-secret", 48, self)
        # Secret from the start: its JSON is secret too (mypy cannot solve Output.secret(an Output)).
        auth_json = pulumi.Output.json_dumps(
            pulumi.Output.secret({"client_secret": client.client_secret, "cookie_secret": cookie_secret})
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-auth-secret-value",
            secret_id=auth_secret.id,
            secret_string=auth_json,
            opts=child,
        )
        self.settings = pulumi.Output.all(app_url=self.url, client_id=client.id, pool_id=pool.id).apply(
            lambda resolved: UiSettings(
                chat_api_auth="aws_iam",
                region=args.region,
                auth_redirect_uri=f"{resolved['app_url']}/oauth2callback",
                auth_client_id=resolved["client_id"],
                auth_server_metadata_url=(
                    f"https://cognito-idp.{args.region}.amazonaws.com/{resolved['pool_id']}"
                    "/.well-known/openid-configuration"
                ),
            )
        )
        self.user_pool_id = pool.id
        self.user_pool_client_id = client.id
        #: The hosted UI's host (a prefix domain): where an SSO provider sends its users back.
        self.hosted_ui_host = pulumi.Output.concat(domain.domain, ".auth.", args.region, ".amazoncognito.com")
        self.target_group_arn = target_group.arn
        self.alb_security_group_id = self.alb_security_group.id
        self.auth_secret_arn = auth_secret.arn
        #: The rule that forwards CloudFront's requests to the target group. ECS refuses a service
        #: whose target group no listener rule uses yet, and the listener alone answers 403: the
        #: service waits for this rule, not for the listener.
        self.forward_rule = forward_rule
        self.register_outputs(
            {
                "url": self.url,
                "user_pool_id": self.user_pool_id,
                "user_pool_client_id": self.user_pool_client_id,
                "hosted_ui_domain": domain.domain,
                "distribution_id": distribution.id,
                "target_group_arn": self.target_group_arn,
            }
        )

    def _load_balancer(
        self, origin_secret: pulumi.Output[str]
    ) -> tuple[aws.lb.LoadBalancer, aws.lb.TargetGroup, aws.lb.ListenerRule]:
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
        forward_rule = aws.lb.ListenerRule(
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
        return alb, target_group, forward_rule
