"""GatewayEdge: the route OpenAI clients take to the chat API's /v1/* in AWS.

The chat API's function URL requires SigV4 (AWS_IAM), which OpenAI clients cannot send. A second
CloudFront distribution, behind the stack's WAF web ACL (its per-IP rate rule, and a stricter one
for /v1/), signs requests for them with an origin access control (OAC) of type lambda:

  client --HTTPS, Authorization: Bearer sk-chatbot-...--> CloudFront (WAF)
    --Lambda@Edge, viewer-request: the key into X-Api-Key; origin-request: the body's SHA-256
      into x-amz-content-sha256 (an origin-request function sees up to 1 MB of body, a
      viewer-request one only 40 KB)-->
    --OAC: SigV4 as cloudfront.amazonaws.com--> function URL (AWS_IAM, RESPONSE_STREAM) --> the app,
       which checks the key.

Only /v1/* reaches the origin; every other path answers 404 at the edge (a CloudFront Function),
so nothing else of the API becomes reachable. The function URL admits CloudFront only for this
distribution (the permission's source ARN). It is a distribution of its own because the web
distribution comes before the chat API (Cognito needs its domain, the API needs Cognito), while
this one needs the API's URL.

`pulumi destroy` cannot delete a Lambda@Edge function while CloudFront's replicas of it live on
(hours after the distribution is gone: pulumi-aws#1045, #2178), so the function is retained on
delete and docs/DEPLOY.md ("Tear down") says how to delete it once the replicas are gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.components.cdn import CACHING_DISABLED, viewer_certificate
from infra.components.iam import allow, policy_document
from infra.config import WebConfig

#: AWS managed origin request policy "AllViewerExceptHostHeader": every viewer header (X-Api-Key
#: and the body hash included) but Host, which must be the function URL's for the signature.
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
EDGE_FUNCTION = Path(__file__).resolve().parents[2] / "runtime" / "edge" / "gateway_request.py"
GATEWAY_PATH = "/v1/*"
#: Answers every path but /v1/* at the edge: the rest of the chat API stays unreachable here.
NOT_FOUND_FUNCTION = """function handler(event) {
  return {statusCode: 404, statusDescription: 'Not Found',
          headers: {'content-type': {value: 'application/json'}},
          body: '{"error": {"message": "Only /v1/ is served here.", "type": "invalid_request_error", "code": "not_found"}}'};
}
"""


@dataclass
class GatewayEdgeArgs:
    region: str
    stack: str
    function_name: pulumi.Input[str]
    function_url: pulumi.Input[str]
    web_acl_arn: pulumi.Input[str]
    #: The stack's chatbot:web section: the gateway's own domain, under its certificate.
    config: WebConfig = field(default_factory=WebConfig)
    log_retention_days: int = 30
    #: The stack's `aws:profile`: the us-east-1 provider must deploy with the same credentials.
    aws_profile: str | None = None


class GatewayEdge(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: GatewayEdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:gateway:GatewayEdge", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Lambda@Edge functions live in us-east-1, whatever the stack's region.
        edge = child
        if args.region != "us-east-1":
            provider = aws.Provider(
                f"{name}-us-east-1", region="us-east-1", profile=args.aws_profile, opts=child
            )
            edge = pulumi.ResourceOptions(parent=self, provider=provider)
        signer = self._edge_function(name, args, edge)
        access = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            description="CloudFront signs gateway requests for the chat API's function URL",
            origin_access_control_origin_type="lambda",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        not_found = aws.cloudfront.Function(
            f"{name}-not-found",
            runtime="cloudfront-js-2.0",
            code=NOT_FOUND_FUNCTION,
            publish=True,
            comment="Every path but /v1/* answers 404",
            opts=child,
        )
        host = pulumi.Output.from_input(args.function_url).apply(
            lambda url: url.removeprefix("https://").rstrip("/")
        )
        distribution = aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class="PriceClass_100",
            aliases=[args.config.gateway_domain_name] if args.config.gateway_domain_name else None,
            web_acl_id=args.web_acl_arn,
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id="chat-api",
                    domain_name=host,
                    origin_access_control_id=access.id,
                    custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                        http_port=80,
                        https_port=443,
                        origin_protocol_policy="https-only",
                        origin_ssl_protocols=["TLSv1.2"],
                        # A streamed answer may pause between tokens; 60 s is CloudFront's default cap.
                        origin_read_timeout=60,
                    ),
                )
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id="chat-api",
                viewer_protocol_policy="https-only",
                allowed_methods=["GET", "HEAD"],
                cached_methods=["GET", "HEAD"],
                cache_policy_id=CACHING_DISABLED,
                function_associations=[
                    aws.cloudfront.DistributionDefaultCacheBehaviorFunctionAssociationArgs(
                        event_type="viewer-request", function_arn=not_found.arn
                    )
                ],
            ),
            ordered_cache_behaviors=[
                aws.cloudfront.DistributionOrderedCacheBehaviorArgs(
                    path_pattern=GATEWAY_PATH,
                    target_origin_id="chat-api",
                    viewer_protocol_policy="https-only",
                    allowed_methods=["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                    cached_methods=["GET", "HEAD"],
                    cache_policy_id=CACHING_DISABLED,
                    origin_request_policy_id=ALL_VIEWER_EXCEPT_HOST,
                    compress=False,  # server-sent events must not wait for a compressor's buffer
                    # One function, two stages (runtime/edge/gateway_request.py): the key
                    # moves at the viewer, the body is hashed at the origin (up to 1 MB there).
                    lambda_function_associations=[
                        aws.cloudfront.DistributionOrderedCacheBehaviorLambdaFunctionAssociationArgs(
                            event_type="viewer-request", lambda_arn=signer.qualified_arn, include_body=False
                        ),
                        aws.cloudfront.DistributionOrderedCacheBehaviorLambdaFunctionAssociationArgs(
                            event_type="origin-request", lambda_arn=signer.qualified_arn, include_body=True
                        ),
                    ],
                )
            ],
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(
                    restriction_type="none"
                )
            ),
            viewer_certificate=viewer_certificate(
                args.config.certificate_arn if args.config.gateway_domain_name else None
            ),
            opts=child,
        )
        # The function URL admits CloudFront for this distribution only. Since Oct 2025 a function
        # URL caller needs both actions (docs/REFERENCE.md).
        for action, suffix in (("lambda:InvokeFunctionUrl", "url"), ("lambda:InvokeFunction", "invoke")):
            aws.lambda_.Permission(
                f"{name}-cloudfront-{suffix}",
                action=action,
                function=args.function_name,
                principal="cloudfront.amazonaws.com",
                source_arn=distribution.arn,
                function_url_auth_type="AWS_IAM" if suffix == "url" else None,
                opts=child,
            )
        host_name = (
            pulumi.Output.from_input(args.config.gateway_domain_name)
            if args.config.gateway_domain_name
            else distribution.domain_name
        )
        self.url = pulumi.Output.concat("https://", host_name, "/v1")
        self.register_outputs({"url": self.url, "distribution_id": distribution.id})

    def _edge_function(
        self, name: str, args: GatewayEdgeArgs, opts: pulumi.ResourceOptions
    ) -> aws.lambda_.Function:
        function_name = f"chatbot-{args.stack}-gateway-request"
        role = aws.iam.Role(
            f"{name}-edge-role",
            assume_role_policy=policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ]
            ),
            opts=opts,
        )
        # Lambda@Edge logs in the Region of the edge location that ran it, as us-east-1.<name>.
        aws.iam.RolePolicy(
            f"{name}-edge-policy",
            role=role.id,
            policy=policy_document(
                [
                    allow(
                        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                        [f"arn:aws:logs:*:*:log-group:/aws/lambda/us-east-1.{function_name}:*"],
                    )
                ]
            ),
            opts=opts,
        )
        # The us-east-1 group, with retention; edge Regions create theirs on first use (an AWS limit).
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-edge-logs",
            name=f"/aws/lambda/us-east-1.{function_name}",
            retention_in_days=args.log_retention_days,
            opts=opts,
        )
        return aws.lambda_.Function(
            f"{name}-edge-function",
            name=function_name,
            runtime="python3.12",
            handler="gateway_request.handler",
            code=pulumi.AssetArchive({"gateway_request.py": pulumi.FileAsset(str(EDGE_FUNCTION))}),
            role=role.arn,
            timeout=5,  # a viewer-request function's maximum (origin-request allows 30)
            memory_size=128,
            publish=True,  # CloudFront takes a numbered version only
            # Replicas outlive the distribution by hours, and deleting the function fails until
            # they are gone: destroy forgets it instead (docs/DEPLOY.md, "Tear down").
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[log_group], retain_on_delete=True)
            ),
        )
