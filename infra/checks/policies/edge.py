"""Rules for the network edge: CloudFront, WAF, the ALB, security groups and the VPC."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from infra.checks.offline import RecordedResource, ResourceGraph
from infra.checks.policies._base import Context, companion, rule

# --- Edge: CloudFront, ALB, WAF ---------------------------------------------------------------

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


@rule("cloudfront-tls", "CloudFront requires TLS 1.2 or newer from viewers")
def _cloudfront_tls(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for distribution in graph.of_type(DISTRIBUTION):
        version = distribution.get("viewerCertificate", "minimumProtocolVersion") or "TLSv1"
        if distribution.get("viewerCertificate", "cloudfrontDefaultCertificate"):
            yield distribution, "the default *.cloudfront.net certificate allows only the TLSv1 policy"
        elif not version.startswith(("TLSv1.2", "TLSv1.3")):
            yield distribution, f"minimumProtocolVersion is {version}"


@rule("cloudfront-https-only", "Every CloudFront behaviour redirects or restricts viewers to HTTPS")
def _cloudfront_https(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for distribution in graph.of_type(DISTRIBUTION):
        behaviours = [distribution.inputs.get("defaultCacheBehavior", {})]
        behaviours += distribution.inputs.get("orderedCacheBehaviors", []) or []
        for behaviour in behaviours:
            if behaviour.get("viewerProtocolPolicy") not in ("redirect-to-https", "https-only"):
                yield distribution, f"viewerProtocolPolicy {behaviour.get('viewerProtocolPolicy')!r}"


@rule("waf-rate-limit", "CloudFront distributions have a web ACL with a rate-based rule")
def _waf(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    acls = {acl.arn: acl for acl in graph.of_type("aws:wafv2/webAcl:WebAcl")}
    for distribution in graph.of_type(DISTRIBUTION):
        acl = acls.get(distribution.inputs.get("webAclId", ""))
        rules = acl.inputs.get("rules", []) if acl else []
        if not any(r.get("statement", {}).get("rateBasedStatement") for r in rules):
            yield distribution, "no web ACL with a rate-based rule"


def _security_groups(graph: ResourceGraph, ids: Iterable[str]) -> list[RecordedResource]:
    wanted = set(ids)
    return [sg for sg in graph.of_type("aws:ec2/securityGroup:SecurityGroup") if sg.id in wanted]


@rule(
    "alb-cloudfront-only", "Internet-facing load balancers accept only CloudFront, carrying the origin secret"
)
def _alb(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for alb in graph.of_type("aws:lb/loadBalancer:LoadBalancer"):
        if alb.inputs.get("internal"):
            continue
        for sg in _security_groups(graph, alb.inputs.get("securityGroups", [])):
            for ingress in sg.inputs.get("ingress", []):
                if (
                    ingress.get("cidrBlocks")
                    or ingress.get("ipv6CidrBlocks")
                    or not ingress.get("prefixListIds")
                ):
                    yield alb, f"security group {sg.name} admits sources other than a prefix list"
        listeners = [
            l_
            for l_ in graph.of_type("aws:lb/listener:Listener")
            if l_.inputs.get("loadBalancerArn") == alb.arn
        ]
        for listener in listeners:
            if any(action.get("type") == "forward" for action in listener.inputs.get("defaultActions", [])):
                yield alb, f"listener {listener.name} forwards by default (no origin header check)"
            header_rules = [
                r
                for r in graph.of_type("aws:lb/listenerRule:ListenerRule")
                if r.inputs.get("listenerArn") == listener.arn
                and any(c.get("httpHeader") for c in r.inputs.get("conditions", []))
            ]
            if not header_rules:
                yield alb, f"listener {listener.name} has no rule requiring the origin header"


@rule("sg-no-open-ingress", "No security group admits the whole internet")
def _open_ingress(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for sg in graph.of_type("aws:ec2/securityGroup:SecurityGroup"):
        for ingress in sg.inputs.get("ingress", []):
            if "0.0.0.0/0" in ingress.get("cidrBlocks", []) or "::/0" in ingress.get("ipv6CidrBlocks", []):
                yield sg, f"ingress on port {ingress.get('fromPort')} from anywhere"


@rule("vpc-flow-logs", "Every VPC records flow logs")
def _flow_logs(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for vpc in graph.of_type("aws:ec2/vpc:Vpc"):
        if companion(graph, "aws:ec2/flowLog:FlowLog", "vpcId", vpc) is None:
            yield vpc, "no FlowLog"


@rule("vpc-default-sg-closed", "Every VPC's default security group has no rules")
def _default_sg(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    for vpc in graph.of_type("aws:ec2/vpc:Vpc"):
        default = companion(graph, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "vpcId", vpc)
        if default is None:
            yield vpc, "the default security group is not managed (AWS leaves it open inside the VPC)"
        elif default.inputs.get("ingress") or default.inputs.get("egress"):
            yield vpc, "the default security group has rules"


# --- The gateway route ------------------------------------------------------------------------

GATEWAY_PATHS = ("/v1/*",)


def _lambda_origins(distribution: RecordedResource) -> list[dict]:
    return [o for o in distribution.inputs.get("origins", []) if ".lambda-url." in str(o.get("domainName"))]


@rule(
    "gateway-behind-cloudfront",
    "A function URL is reached only through CloudFront (OAC-signed, WAF'd), and only on the gateway's /v1/*",
)
def _gateway(graph: ResourceGraph, _: Context) -> Iterator[tuple[RecordedResource, str]]:
    distributions = {d.arn: d for d in graph.of_type(DISTRIBUTION)}
    pools = {p.arn for p in graph.of_type("aws:cognito/userPool:UserPool")}
    for permission in graph.of_type("aws:lambda/permission:Permission"):
        principal = permission.inputs.get("principal")
        if principal == "cognito-idp.amazonaws.com" and permission.inputs.get("sourceArn") in pools:
            continue  # a user pool's trigger (the SSO groups one), invoked by this stack's pool only
        if principal != "cloudfront.amazonaws.com" or permission.inputs.get("sourceArn") not in distributions:
            yield permission, f"lets {principal} invoke the function, not one of this stack's distributions"
    oacs = {o.id: o for o in graph.of_type("aws:cloudfront/originAccessControl:OriginAccessControl")}
    for distribution in distributions.values():
        origins = _lambda_origins(distribution)
        for origin in origins:
            oac = oacs.get(origin.get("originAccessControlId", ""))
            if oac is None or oac.inputs.get("originAccessControlOriginType") != "lambda":
                yield distribution, f"origin {origin.get('originId')} is a function URL without a lambda OAC"
            elif oac.inputs.get("signingBehavior") != "always":
                yield distribution, f"origin {origin.get('originId')}: the OAC must always sign"
        targets = {origin.get("originId") for origin in origins}
        behaviours = [distribution.inputs.get("defaultCacheBehavior", {})]
        behaviours += distribution.inputs.get("orderedCacheBehaviors", []) or []
        for behaviour in behaviours:
            if (
                behaviour.get("targetOriginId") not in targets
                or behaviour.get("pathPattern") in GATEWAY_PATHS
            ):
                continue
            if not any(
                f.get("eventType") == "viewer-request" for f in behaviour.get("functionAssociations", [])
            ):
                where = behaviour.get("pathPattern", "the default behaviour")
                yield (
                    distribution,
                    f"{where} forwards to the function URL: only {', '.join(GATEWAY_PATHS)} may",
                )
