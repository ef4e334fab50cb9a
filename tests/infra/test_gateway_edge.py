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
from infra.edge_functions import gateway_request
from infra.offline import OfflineRun
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
    [edge] = v1["lambdaFunctionAssociations"]
    assert edge["eventType"] == "viewer-request"
    assert edge["includeBody"] is True
    assert edge["lambdaArn"] == "arn:aws:lambda:us-east-1:123456789012:function:chatbot-dev-gateway-request:1"
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


def cloudfront_event(body: bytes, authorization: str | None, *, truncated: bool = False) -> dict:
    headers = {"host": [{"key": "Host", "value": "gateway.example"}]}
    if authorization is not None:
        headers["authorization"] = [{"key": "Authorization", "value": authorization}]
    request = {
        "method": "POST",
        "uri": "/v1/chat/completions",
        "headers": headers,
        "body": {"data": base64.b64encode(body).decode(), "encoding": "base64", "inputTruncated": truncated},
    }
    return {"Records": [{"cf": {"request": request}}]}


def test_the_edge_function_hashes_the_body_as_sigv4_does_and_moves_the_key():
    body = json.dumps({"model": "nova-micro", "messages": [{"role": "user", "content": "hi"}]}).encode()
    key = f"{API_KEY_PREFIX}abc123"
    request = gateway_request.handler(cloudfront_event(body, f"Bearer {key}"))
    headers = request["headers"]
    # botocore's own payload hash for the same body: what the OAC's SigV4 must sign.
    signer_view = AWSRequest(method="POST", url="https://x.lambda-url.us-east-1.on.aws/v1", data=body)
    expected = SigV4Auth(Credentials("a", "b"), "lambda", "us-east-1").payload(signer_view)
    assert headers["x-amz-content-sha256"][0]["value"] == expected == hashlib.sha256(body).hexdigest()
    assert headers["x-api-key"][0]["value"] == key
    assert "authorization" not in headers, "OAC signs in Authorization: the key must not be lost there"


def test_a_sign_in_token_moves_to_x_id_token_and_no_header_moves_nothing():
    headers = gateway_request.handler(cloudfront_event(b"{}", "Bearer eyJhbGciOi.token"))["headers"]
    assert headers["x-id-token"][0]["value"] == "eyJhbGciOi.token"
    assert "x-api-key" not in headers
    bare = gateway_request.handler(cloudfront_event(b"", None))["headers"]
    assert bare["x-amz-content-sha256"][0]["value"] == hashlib.sha256(b"").hexdigest()
    assert set(bare) == {"host", "x-amz-content-sha256"}


def test_a_body_over_lambda_edges_limit_is_refused_in_openais_error_shape():
    answer = gateway_request.handler(cloudfront_event(b"x" * 10, "Bearer k", truncated=True))
    assert answer["status"] == "413"
    assert json.loads(answer["body"])["error"]["code"] == "request_too_large"


def test_the_edge_function_knows_the_apps_key_prefix():
    assert gateway_request.API_KEY_PREFIX == API_KEY_PREFIX
