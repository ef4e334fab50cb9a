"""The web app: viewers reach the Streamlit tasks (WebService) only through the WebEdge's CloudFront
(HTTPS, WAF) and an ALB that admits only CloudFront; users sign in with Cognito; the client secret
travels via Secrets Manager."""

from __future__ import annotations

import hashlib
import json

import pytest

from infra.checks.offline import OfflineRun
from infra.components.cdn import ALL_VIEWER, CACHING_DISABLED, ORIGIN_HEADER
from tests.infra.support import allowed, one, waits_on

SG = "aws:ec2/securityGroup:SecurityGroup"


def test_cloudfront_reaches_the_alb_which_forwards_only_with_the_origin_secret_to_ecs(dev: OfflineRun):
    graph = dev.graph
    cdn = one(graph, "aws:cloudfront/distribution:Distribution", "web-cdn")
    alb = one(graph, "aws:lb/loadBalancer:LoadBalancer")
    listener = one(graph, "aws:lb/listener:Listener")
    rule = one(graph, "aws:lb/listenerRule:ListenerRule")
    target_group = one(graph, "aws:lb/targetGroup:TargetGroup")
    service = one(graph, "aws:ecs/service:Service")

    origin = cdn.inputs["origins"][0]
    assert origin["domainName"] == f"{alb.name}.us-east-1.elb.amazonaws.com"
    secret = origin["customHeaders"][0]
    assert secret["name"] == ORIGIN_HEADER
    assert len(secret["value"]) >= 32
    assert listener.inputs["loadBalancerArn"] == alb.arn
    assert listener.inputs["defaultActions"][0]["type"] == "fixed-response"
    assert listener.inputs["defaultActions"][0]["fixedResponse"]["statusCode"] == "403"
    assert rule.inputs["listenerArn"] == listener.arn
    assert rule.inputs["conditions"][0]["httpHeader"] == {
        "httpHeaderName": ORIGIN_HEADER,
        "values": [secret["value"]],
    }
    assert rule.inputs["actions"][0] == {"type": "forward", "targetGroupArn": target_group.arn}
    assert service.inputs["loadBalancers"][0]["targetGroupArn"] == target_group.arn
    assert service.inputs["loadBalancers"][0]["containerPort"] == target_group.inputs["port"] == 8501


def test_the_alb_admits_only_cloudfronts_prefix_list_and_the_tasks_only_the_alb(dev: OfflineRun):
    graph = dev.graph
    alb = one(graph, "aws:lb/loadBalancer:LoadBalancer")
    alb_sg = one(graph, SG, "web-alb-sg")
    task_sg = one(graph, SG, "web-app-task-sg")
    assert alb.inputs["securityGroups"] == [alb_sg.id]
    assert [(r["fromPort"], r["prefixListIds"], r.get("cidrBlocks")) for r in alb_sg.inputs["ingress"]] == [
        (80, ["pl-3b927c52"], None)
    ]
    assert [(r["fromPort"], r["securityGroups"]) for r in task_sg.inputs["ingress"]] == [(8501, [alb_sg.id])]
    service = one(graph, "aws:ecs/service:Service")
    assert service.inputs["networkConfiguration"]["securityGroups"] == [task_sg.id]
    assert service.inputs["networkConfiguration"]["assignPublicIp"] is False


def test_cloudfront_is_https_only_with_caching_off_and_all_methods_for_the_app(dev: OfflineRun):
    behaviour = one(dev.graph, "aws:cloudfront/distribution:Distribution", "web-cdn").inputs[
        "defaultCacheBehavior"
    ]
    assert behaviour["viewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["cachePolicyId"] == CACHING_DISABLED
    # Websockets need the Upgrade headers forwarded: the AllViewer origin request policy does that.
    assert behaviour["originRequestPolicyId"] == ALL_VIEWER
    assert {"GET", "POST", "OPTIONS"} <= set(behaviour["allowedMethods"])


@pytest.mark.parametrize(("stack", "expected"), [("dev", ("TLSv1", True)), ("prod", ("TLSv1.2_2021", None))])
def test_the_viewer_certificate_follows_the_stacks_domain(stack: str, expected, request):
    cdn = one(request.getfixturevalue(stack).graph, "aws:cloudfront/distribution:Distribution", "web-cdn")
    certificate = cdn.inputs["viewerCertificate"]
    assert (
        certificate["minimumProtocolVersion"],
        certificate.get("cloudfrontDefaultCertificate"),
    ) == expected
    if stack == "prod":
        assert cdn.inputs["aliases"] == ["chat.example.com"]
        assert certificate["acmCertificateArn"].startswith("arn:aws:acm:us-east-1:")


def test_waf_rate_limits_each_client_ip(dev: OfflineRun, prod: OfflineRun):
    for run, limit in ((dev, 1000), (prod, 2000)):
        acl = one(run.graph, "aws:wafv2/webAcl:WebAcl")
        assert acl.inputs["scope"] == "CLOUDFRONT"
        rate = acl.inputs["rules"][0]["statement"]["rateBasedStatement"]  # the gateway adds its own
        assert (rate["limit"], rate["aggregateKeyType"]) == (limit, "IP")
        assert (
            one(run.graph, "aws:cloudfront/distribution:Distribution", "web-cdn").inputs["webAclId"]
            == acl.arn
        )


def test_cognito_pool_password_policy_mfa_and_no_self_signup(dev: OfflineRun, prod: OfflineRun):
    for run, mfa in ((dev, "OPTIONAL"), (prod, "ON")):
        pool = one(run.graph, "aws:cognito/userPool:UserPool")
        assert pool.inputs["mfaConfiguration"] == mfa
        assert pool.inputs["softwareTokenMfaConfiguration"] == {"enabled": True}
        assert pool.inputs["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
        policy = pool.inputs["passwordPolicy"]
        assert policy["minimumLength"] >= 12
        assert all(
            policy[k] for k in ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols")
        )


def test_the_app_client_uses_the_code_flow_back_to_the_app(dev: OfflineRun):
    graph = dev.graph
    client = one(graph, "aws:cognito/userPoolClient:UserPoolClient")
    assert client.inputs["generateSecret"] is True
    assert client.inputs["allowedOauthFlows"] == ["code"]
    assert client.inputs["callbackUrls"] == [f"{dev.outputs['app_url']}/oauth2callback"]
    # No public password flow: the admin flow needs IAM credentials (infra.smoke's test user).
    assert sorted(client.inputs["explicitAuthFlows"]) == [
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    ]
    domain = one(graph, "aws:cognito/userPoolDomain:UserPoolDomain")
    assert domain.inputs["userPoolId"] == one(graph, "aws:cognito/userPool:UserPool").id
    assert domain.inputs["domain"].startswith("chatbot-dev-")


def test_the_client_secret_reaches_the_task_through_secrets_manager(dev: OfflineRun):
    graph = dev.graph
    secret = one(graph, "aws:secretsmanager/secret:Secret", "web-auth-secret")
    value = json.loads(one(graph, "aws:secretsmanager/secretVersion:SecretVersion").inputs["secretString"])
    assert value["client_secret"] == "offline-client-secret"
    task = one(graph, "aws:ecs/taskDefinition:TaskDefinition")
    container = json.loads(task.inputs["containerDefinitions"])[0]
    assert {s["name"]: s["valueFrom"] for s in container["secrets"]} == {
        "AUTH_CLIENT_SECRET": f"{secret.arn}:client_secret::",
        "AUTH_COOKIE_SECRET": f"{secret.arn}:cookie_secret::",
    }
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert "offline-client-secret" not in env.values()
    assert env["CHAT_API_URL"] == dev.outputs["chat_api_url"].rstrip("/")
    assert env["AUTH_REDIRECT_URI"] == f"{dev.outputs['app_url']}/oauth2callback"
    execution = allowed(graph, one(graph, "aws:iam/role:Role", "web-app-execution-role"))
    assert execution["secretsmanager:GetSecretValue"] == {secret.arn}


def test_the_tasks_may_call_the_chat_api_and_nothing_else(dev: OfflineRun):
    graph = dev.graph
    grants = allowed(graph, one(graph, "aws:iam/role:Role", "web-app-task-role"))
    function = one(graph, "aws:lambda/function:Function", "chat-function").arn
    assert grants == {"lambda:InvokeFunctionUrl": {function}, "lambda:InvokeFunction": {function}}


def test_the_service_runs_the_streamlit_image_and_autoscales(dev: OfflineRun, prod: OfflineRun):
    image = one(dev.graph, "awsx:ecr:Image", "web-app-image")
    assert image.inputs["dockerfile"].endswith("streamlit_app/Dockerfile")
    for run, bounds in ((dev, (1, 2)), (prod, (2, 6))):
        target = one(run.graph, "aws:appautoscaling/target:Target", "web-app-scaling-target")
        assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == bounds
        assert one(run.graph, "aws:ecs/service:Service").inputs["desiredCount"] == bounds[0]


def test_the_origin_and_cookie_secrets_are_drawn_once_and_kept_in_state(dev: OfflineRun):
    # A data source (get_random_password) draws anew on every preview and up, and the ALB then
    # answers 403 until CloudFront's header catches up: the secrets are resources.
    passwords = {r.name: r for r in dev.graph.of_type("random:index/randomPassword:RandomPassword")}
    assert set(passwords) == {"web-origin-secret", "web-cookie-secret"}
    rule = one(dev.graph, "aws:lb/listenerRule:ListenerRule", "web-from-cloudfront")
    header_value = rule.inputs["conditions"][0]["httpHeader"]["values"][0]
    assert header_value == mocked_result(passwords["web-origin-secret"])


def test_the_task_environment_is_the_apps_settings_model(dev: OfflineRun):
    from streamlit_app.settings import UiSettings

    task = one(dev.graph, "aws:ecs/taskDefinition:TaskDefinition")
    container = json.loads(task.inputs["containerDefinitions"])[0]
    env = {item["name"]: item["value"] for item in container["environment"]}
    settings = UiSettings.from_env(env)
    assert settings.to_env() == env
    assert settings.chat_api_auth == "aws_iam"
    assert settings.login == "oidc"
    assert settings.chat_api_url.startswith("https://")
    secrets = {item["name"] for item in container["secrets"]}
    assert secrets == {UiSettings.variable("auth_client_secret"), UiSettings.variable("auth_cookie_secret")}


def mocked_result(password) -> str:
    """What the offline mocks answer for a RandomPassword's `result`."""
    return hashlib.sha256(password.name.encode()).hexdigest()[: int(password.inputs["length"])]


def test_the_edge_and_the_service_are_two_components_built_in_order(dev: OfflineRun):
    # The edge is complete before the chat API (which verifies its Cognito tokens); the service
    # after it (it calls the chat API): no component waits on a later call to finish itself.
    edge = one(dev.graph, "chatbot:web:WebEdge")
    service = one(dev.graph, "chatbot:web:WebService")
    assert one(dev.graph, "aws:cloudfront/distribution:Distribution", "web-cdn").parent_urn == edge.urn
    assert one(dev.graph, "aws:ecs/service:Service").parent_urn == service.urn
    # Registration order under the mocks races between threads; what the engine orders by is
    # dependencies, so the test reads those.
    backend = one(dev.graph, "chatbot:chat:ChatBackend")
    assert waits_on(dev.graph, backend, edge), "the chat API never uses the edge's Cognito settings"
    assert waits_on(dev.graph, service, backend), "the web service never uses the chat API's URL"
    assert not waits_on(dev.graph, edge, backend), "the edge waits on the chat API: a cycle is back"
    assert not waits_on(dev.graph, edge, service), "the edge waits on the web service: a cycle is back"


def test_the_service_waits_for_the_rule_that_attaches_its_target_group(dev: OfflineRun):
    """ECS refuses a service whose target group no listener rule uses: the listener (403 by
    default) is not enough, the rule that forwards to the target group must exist first."""
    service = one(dev.graph, "aws:ecs/service:Service")
    rule = one(dev.graph, "aws:lb/listenerRule:ListenerRule", "web-from-cloudfront")
    assert rule.urn in service.dependencies


def test_dev_runs_the_web_tasks_on_graviton_with_an_image_built_for_it(dev: OfflineRun, prod: OfflineRun):
    """20% less per vCPU and GB than x86 (what keeps dev within its budget with its SageMaker model);
    the image must be built for the tasks' CPU, or they fail to start with exec format error."""
    for run, architecture, platform in ((dev, "ARM64", "linux/arm64"), (prod, "X86_64", "linux/amd64")):
        task = one(run.graph, "aws:ecs/taskDefinition:TaskDefinition")
        assert task.inputs["runtimePlatform"]["cpuArchitecture"] == architecture
        assert one(run.graph, "awsx:ecr:Image", "web-app-image").inputs["platform"] == platform
