"""The gateway route: OpenAI clients reach /v1/* through CloudFront (WAF, a /v1/ rate rule) whose
origin access control signs for the function URL; nothing else of the API is reachable there."""

from __future__ import annotations

import base64
import hashlib
import json

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from chatbot.chat.api_keys import API_KEY_PREFIX
from infra.checks.offline import OfflineRun
from infra.config import PROJECT_ROOT
from runtime.edge import gateway_request
from tests.infra.support import one

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


def test_v1_goes_to_the_function_url_signed_by_a_lambda_oac_and_nothing_else_does(dev: OfflineRun):
    graph = dev.graph
    cdn = one(graph, DISTRIBUTION, "gateway-cdn")
    [origin] = cdn.inputs["origins"]
    assert origin["domainName"] == "chat-url.lambda-url.us-east-1.on.aws"
    oac = one(graph, "aws:cloudfront/originAccessControl:OriginAccessControl")
    assert origin["originAccessControlId"] == oac.id
    assert oac.inputs["originAccessControlOriginType"] == "lambda"
    assert oac.inputs["signingBehavior"] == "always"
    [v1] = cdn.inputs["orderedCacheBehaviors"]
    assert v1["pathPattern"] == "/v1/*"
    assert "POST" in v1["allowedMethods"]
    # The body is read at origin-request (up to 1 MB there; a viewer-request function sees 40 KB).
    by_stage = {edge["eventType"]: edge for edge in v1["lambdaFunctionAssociations"]}
    assert {stage: edge["includeBody"] for stage, edge in by_stage.items()} == {
        "viewer-request": False,
        "origin-request": True,
    }
    assert {edge["lambdaArn"] for edge in by_stage.values()} == {
        "arn:aws:lambda:us-east-1:123456789012:function:chatbot-dev-gateway-request:1"
    }
    default = cdn.inputs["defaultCacheBehavior"]
    not_found = one(graph, "aws:cloudfront/function:Function")
    assert default["functionAssociations"] == [{"eventType": "viewer-request", "functionArn": not_found.arn}]
    assert "statusCode: 404" in not_found.inputs["code"]
    assert {v1["viewerProtocolPolicy"], default["viewerProtocolPolicy"]} == {"https-only"}


def test_the_gateway_shares_the_web_acl_which_adds_a_stricter_rate_rule_on_v1(dev: OfflineRun):
    graph = dev.graph
    acl = one(graph, "aws:wafv2/webAcl:WebAcl")
    assert one(graph, DISTRIBUTION, "gateway-cdn").inputs["webAclId"] == acl.arn
    assert one(graph, DISTRIBUTION, "web-cdn").inputs["webAclId"] == acl.arn
    rule = next(r for r in acl.inputs["rules"] if r["name"] == "gateway-rate-limit-per-ip")
    rate = rule["statement"]["rateBasedStatement"]
    assert rate["limit"] == 300
    match = rate["scopeDownStatement"]["byteMatchStatement"]
    assert (match["searchString"], match["positionalConstraint"]) == ("/v1/", "STARTS_WITH")


def test_the_function_url_stays_iam_only_and_admits_cloudfront_for_this_distribution(dev: OfflineRun):
    graph = dev.graph
    url = one(graph, "aws:lambda/functionUrl:FunctionUrl")
    assert url.inputs["authorizationType"] == "AWS_IAM"
    cdn = one(graph, DISTRIBUTION, "gateway-cdn")
    function = one(graph, "aws:lambda/function:Function", "chat-function")
    permissions = graph.of_type("aws:lambda/permission:Permission")
    assert {p.inputs["action"] for p in permissions} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    for permission in permissions:
        assert permission.inputs["principal"] == "cloudfront.amazonaws.com"
        assert permission.inputs["sourceArn"] == cdn.arn
        assert permission.inputs["function"] == function.physical_name


def test_the_app_shows_the_gateway_url_and_the_stack_exports_it(dev: OfflineRun):
    task = one(dev.graph, "aws:ecs/taskDefinition:TaskDefinition")
    env = {e["name"]: e["value"] for e in json.loads(task.inputs["containerDefinitions"])[0]["environment"]}
    assert env["GATEWAY_URL"] == "https://gateway-cdn.cloudfront.net/v1"
    assert dev.outputs["gateway_url"] == "https://gateway-cdn.cloudfront.net/v1"


def cloudfront_event(
    stage: str, body: bytes | None, authorization: str | None, *, truncated: bool = False
) -> dict:
    """The event CloudFront hands Lambda@Edge (developer guide, "Lambda@Edge event structure"):
    `config.eventType` names the stage; an origin-request event carries the origin; `body` is there
    only with include_body, and `inputTruncated` says CloudFront cut it at the stage's limit."""
    headers = {
        "host": [{"key": "Host", "value": "d111111abcdef8.cloudfront.net"}],
        "content-type": [{"key": "Content-Type", "value": "application/json"}],
    }
    if authorization is not None:
        headers["authorization"] = [{"key": "Authorization", "value": authorization}]
    request: dict = {
        "clientIp": "203.0.113.178",
        "method": "POST",
        "querystring": "",
        "uri": "/v1/chat/completions",
    }
    request["headers"] = headers
    if stage == "origin-request":
        request["origin"] = {
            "custom": {
                "customHeaders": {},
                "domainName": "chat-url.lambda-url.us-east-1.on.aws",
                "keepaliveTimeout": 5,
                "path": "",
                "port": 443,
                "protocol": "https",
                "readTimeout": 60,
                "sslProtocols": ["TLSv1.2"],
            }
        }
    if body is not None:
        request["body"] = {
            "inputTruncated": truncated,
            "action": "read-only",
            "encoding": "base64",
            "data": base64.b64encode(body).decode(),
        }
    config = {
        "distributionDomainName": "d111111abcdef8.cloudfront.net",
        "distributionId": "EDFDVBD6EXAMPLE",
        "eventType": stage,
        "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
    }
    return {"Records": [{"cf": {"config": config, "request": request}}]}


def through_the_edge(body: bytes, authorization: str | None) -> dict:
    """Both stages in CloudFront's order: the viewer-request run's request goes on to origin-request."""
    viewer = gateway_request.handler(cloudfront_event("viewer-request", None, authorization))
    event = cloudfront_event("origin-request", body, None)
    event["Records"][0]["cf"]["request"]["headers"] = viewer["headers"]
    return gateway_request.handler(event)


def test_the_edge_function_hashes_the_body_as_sigv4_does_and_moves_the_key():
    body = json.dumps({"model": "nova-micro", "messages": [{"role": "user", "content": "hi"}]}).encode()
    key = f"{API_KEY_PREFIX}abc123"
    request = through_the_edge(body, f"Bearer {key}")
    headers = request["headers"]
    # botocore's own payload hash for the same body: what the OAC's SigV4 must sign.
    signer_view = AWSRequest(method="POST", url="https://x.lambda-url.us-east-1.on.aws/v1", data=body)
    expected = SigV4Auth(Credentials("a", "b"), "lambda", "us-east-1").payload(signer_view)
    assert headers["x-amz-content-sha256"][0]["value"] == expected == hashlib.sha256(body).hexdigest()
    assert headers["x-api-key"][0]["value"] == key
    assert "authorization" not in headers, "OAC signs in Authorization: the key must not be lost there"


def test_a_history_past_40_kb_is_hashed_whole_at_origin_request():
    """About 10k tokens of conversation: past a viewer-request function's 40 KB, within 1 MB."""
    history = [{"role": "user", "content": "word " * 200} for _ in range(60)]
    body = json.dumps({"model": "nova-micro", "messages": history}).encode()
    assert 40 * 1024 < len(body) < gateway_request.BODY_LIMIT_BYTES
    request = through_the_edge(body, f"Bearer {API_KEY_PREFIX}abc")
    assert request["headers"]["x-amz-content-sha256"][0]["value"] == hashlib.sha256(body).hexdigest()


def test_the_viewer_stage_moves_the_key_and_leaves_the_body_to_the_origin_stage():
    request = gateway_request.handler(cloudfront_event("viewer-request", None, f"Bearer {API_KEY_PREFIX}k"))
    assert request["headers"]["x-api-key"][0]["value"] == f"{API_KEY_PREFIX}k"
    assert "x-amz-content-sha256" not in request["headers"]


def test_a_sign_in_token_moves_to_x_id_token_and_no_header_moves_nothing():
    headers = through_the_edge(b"{}", "Bearer eyJhbGciOi.token")["headers"]
    assert headers["x-id-token"][0]["value"] == "eyJhbGciOi.token"
    assert "x-api-key" not in headers
    bare = through_the_edge(b"", None)["headers"]
    assert bare["x-amz-content-sha256"][0]["value"] == hashlib.sha256(b"").hexdigest()
    assert set(bare) == {"host", "content-type", "x-amz-content-sha256"}


def test_a_body_over_the_origin_stages_1_mb_is_refused_in_openais_error_shape_saying_so():
    answer = gateway_request.handler(
        cloudfront_event("origin-request", b"x" * 10, f"Bearer {API_KEY_PREFIX}k", truncated=True)
    )
    assert answer["status"] == "413"
    error = json.loads(answer["body"])["error"]
    assert error["code"] == "request_too_large"
    assert "over 1 MB" in error["message"]
    assert gateway_request.BODY_LIMIT_BYTES == 1024 * 1024


def test_destroy_leaves_the_edge_function_to_its_documented_clean_up(dev: OfflineRun):
    """Its replicas outlive the distribution by hours (pulumi-aws#1045): deleting it would fail."""
    function = one(dev.graph, "aws:lambda/function:Function", "gateway-edge-function")
    assert function.retain_on_delete
    others = [r for r in dev.graph.of_type("aws:lambda/function:Function") if r is not function]
    assert others
    assert not any(r.retain_on_delete for r in others)
    tear_down = (PROJECT_ROOT / "docs" / "DEPLOY.md").read_text().split("## Tear down")[1]
    assert (
        f"delete-function --region us-east-1 --function-name {function.physical_name}".replace(
            "chatbot-dev-", "chatbot-<stack>-"
        )
        in tear_down
    )


def test_the_edge_function_knows_the_apps_key_prefix():
    assert gateway_request.API_KEY_PREFIX == API_KEY_PREFIX
