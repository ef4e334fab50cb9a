"""The web app's edge: the CloudFront distribution in front of the ALB, and its WAF web ACL.
Children of the WebEdge component (infra/components/web_edge.py), which calls these."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

ORIGIN_HEADER = "X-Origin-Verify"
#: AWS managed CloudFront policies (fixed ids): no caching, and every viewer header (the websocket
#: upgrade included) forwarded to the origin.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"


def distribution(
    name: str,
    parent: pulumi.Resource,
    alb: aws.lb.LoadBalancer,
    origin_secret: pulumi.Output[str],
    *,
    web_acl_arn: pulumi.Input[str],
    domain_name: str | None,
    certificate_arn: str | None,
) -> aws.cloudfront.Distribution:
    """HTTPS for viewers, no caching, every method and header (websockets) through to the ALB."""
    child = pulumi.ResourceOptions(parent=parent)
    return aws.cloudfront.Distribution(
        f"{name}-cdn",
        enabled=True,
        is_ipv6_enabled=True,
        http_version="http2and3",
        price_class="PriceClass_100",
        aliases=[domain_name] if domain_name else None,
        web_acl_id=web_acl_arn,
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
                    aws.cloudfront.DistributionOriginCustomHeaderArgs(name=ORIGIN_HEADER, value=origin_secret)
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
            geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
        ),
        viewer_certificate=viewer_certificate(certificate_arn),
        opts=child,
    )


def viewer_certificate(certificate_arn: str | None) -> aws.cloudfront.DistributionViewerCertificateArgs:
    if certificate_arn:
        return aws.cloudfront.DistributionViewerCertificateArgs(
            acm_certificate_arn=certificate_arn,
            ssl_support_method="sni-only",
            minimum_protocol_version="TLSv1.2_2021",
        )
    # With *.cloudfront.net CloudFront applies its TLSv1 policy whatever is asked (an AWS
    # limit); the cloudfront-tls rule fails this unless the stack waives it with a reason.
    return aws.cloudfront.DistributionViewerCertificateArgs(
        cloudfront_default_certificate=True, minimum_protocol_version="TLSv1"
    )


def web_acl(
    name: str,
    parent: pulumi.Resource,
    *,
    region: str,
    rate_limit_per_5min: int,
    gateway_rate_limit_per_5min: int | None = None,
    aws_profile: str | None = None,
) -> aws.wafv2.WebAcl:
    """A rate limit per client IP in front of CloudFront (the app's and the gateway's
    distributions), and a stricter one on the gateway's /v1/ paths when it is on."""
    # A CloudFront web ACL must live in us-east-1, whatever the stack's region; with the stack's
    # credentials (an explicit provider reads no aws:profile from the stack config).
    provider = (
        None
        if region == "us-east-1"
        else aws.Provider(
            f"{name}-us-east-1",
            region="us-east-1",
            profile=aws_profile,
            opts=pulumi.ResourceOptions(parent=parent),
        )
    )

    def visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgs:
        return aws.wafv2.WebAclVisibilityConfigArgs(
            cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
        )

    def rule_visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
        return aws.wafv2.WebAclRuleVisibilityConfigArgs(
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
                        limit=rate_limit_per_5min, aggregate_key_type="IP", evaluation_window_sec=300
                    )
                ),
                visibility_config=rule_visibility("rate-limit-per-ip"),
            ),
            *(
                [
                    aws.wafv2.WebAclRuleArgs(
                        name="gateway-rate-limit-per-ip",
                        priority=2,
                        action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
                        statement=aws.wafv2.WebAclRuleStatementArgs(
                            rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                                limit=gateway_rate_limit_per_5min,
                                aggregate_key_type="IP",
                                evaluation_window_sec=300,
                                scope_down_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementArgs(
                                    byte_match_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementArgs(
                                        field_to_match=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementFieldToMatchArgs(
                                            uri_path=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementFieldToMatchUriPathArgs()
                                        ),
                                        positional_constraint="STARTS_WITH",
                                        search_string="/v1/",
                                        text_transformations=[
                                            aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementTextTransformationArgs(
                                                priority=0, type="NONE"
                                            )
                                        ],
                                    )
                                ),
                            )
                        ),
                        visibility_config=rule_visibility("gateway-rate-limit-per-ip"),
                    )
                ]
                if gateway_rate_limit_per_5min
                else []
            ),
        ],
        visibility_config=visibility(f"{name}-waf"),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
