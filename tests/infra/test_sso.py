"""Single sign-on under mocks: an OIDC (Entra ID) and a SAML provider on the user pool, the
pre-token-generation trigger wired to it, the stack's rules and cost unchanged, and the real AWS
provider's `terraform validate` over both graphs. The stacks as their files stand (no chatbot:sso)
keep the pool without a trigger or provider."""

from __future__ import annotations

import json
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chatbot.errors import ConfigError
from infra.build.packaging import build_function_zip
from infra.checks import pricing, terraform
from infra.checks.offline import OfflineRun
from infra.checks.offline_stack import offline_run
from infra.checks.policies import evaluate
from infra.checks.preflight_sso import sso_client_secret
from infra.components.sso import TRIGGER_VERSION
from infra.config import PROJECT_ROOT, SsoConfig, parse_stack_config
from tests.infra.iam_enforced import REGION, enforced_aws, role_statements
from tests.infra.support import allowed, one, stack_config
from tests.infra.test_policies import DEV, PROD

POOL, CLIENT, PROVIDER = (
    "aws:cognito/userPool:UserPool",
    "aws:cognito/userPoolClient:UserPoolClient",
    ("aws:cognito/identityProvider:IdentityProvider"),
)
FUNCTION = "aws:lambda/function:Function"
ADMINS = "5b0f7c2e-8e8a-4d0b-9a51-0a3c7f1e2d44"  # an Entra group's object id
ENTRA = {
    "provider_name": "Entra",
    "oidc_issuer": "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0",
    "client_id": "6f1e2d44-0000-4000-8000-000000000001",
    "client_secret_id": "arn:aws:secretsmanager:us-east-1:123456789012:secret:chatbot/entra-AbCdEf",
    "role_mapping": {ADMINS: "admin", "research-team-id": ["research"]},
}
OKTA_SAML = {
    "provider_name": "Okta",
    "saml_metadata_url": "https://example.okta.com/app/exk000/sso/saml/metadata",
    "groups_claim": "groups",
    "email_claim": "email",
    "role_mapping": {"Chat Admins": "admin"},
}


@pytest.fixture(scope="module")
def prod_entra() -> OfflineRun:
    return offline_run("prod", stack_config("prod", sso=ENTRA))


@pytest.fixture(scope="module")
def dev_okta() -> OfflineRun:
    return offline_run("dev", stack_config("dev", sso=OKTA_SAML))


def test_an_oidc_provider_takes_the_documented_keys_and_maps_groups_to_a_custom_attribute(prod_entra):
    provider = one(prod_entra.graph, PROVIDER)
    assert provider.inputs["providerType"] == "OIDC"
    assert provider.inputs["providerName"] == "Entra"
    details = provider.inputs["providerDetails"]
    assert set(details) == {
        "client_id",
        "client_secret",
        "attributes_request_method",
        "oidc_issuer",
        "authorize_scopes",
    }
    assert details["oidc_issuer"] == ENTRA["oidc_issuer"]
    assert details["client_secret"] == "offline-secret-value"  # read from Secrets Manager, not the stack file
    assert provider.inputs["attributeMapping"] == {"email": "email", "custom:groups": "groups"}
    assert provider.inputs["userPoolId"] == one(prod_entra.graph, POOL).id


def test_a_saml_provider_takes_its_metadata_url_only(dev_okta):
    provider = one(dev_okta.graph, PROVIDER)
    assert provider.inputs["providerType"] == "SAML"
    assert provider.inputs["providerDetails"] == {"MetadataURL": OKTA_SAML["saml_metadata_url"]}
    assert provider.inputs["attributeMapping"] == {"email": "email", "custom:groups": "groups"}


def test_the_pool_runs_the_trigger_and_only_this_pool_may_invoke_it(prod_entra):
    graph = prod_entra.graph
    pool, trigger = one(graph, POOL), one(graph, FUNCTION, "web-sso-groups")
    config = pool.inputs["lambdaConfig"]["preTokenGenerationConfig"]
    assert config == {"lambdaArn": trigger.arn, "lambdaVersion": TRIGGER_VERSION}
    assert {"name": "groups", "attributeDataType": "String"}.items() <= pool.inputs["schemas"][0].items()
    permission = one(graph, "aws:lambda/permission:Permission", "web-sso-groups-invoke")
    assert (permission.inputs["principal"], permission.inputs["sourceArn"]) == (
        "cognito-idp.amazonaws.com",
        pool.arn,
    )
    assert permission.inputs["function"] == trigger.inputs["name"]
    env = trigger.inputs["environment"]["variables"]
    assert json.loads(env["CHATBOT_SSO_ROLE_MAPPING"]) == {
        ADMINS: ["admin"],
        "research-team-id": ["research"],
    }
    assert (env["CHATBOT_SSO_PROVIDER"], env["CHATBOT_SSO_GROUPS_ATTRIBUTE"]) == ("Entra", "custom:groups")
    assert trigger.inputs["timeout"] == 5
    assert "vpcConfig" not in trigger.inputs


def test_the_app_client_offers_the_provider_and_may_write_what_is_mapped(prod_entra):
    client = one(prod_entra.graph, CLIENT)
    assert client.inputs["supportedIdentityProviders"] == ["COGNITO", "Entra"]
    assert client.inputs["writeAttributes"] == ["custom:groups", "email"]
    assert client.inputs["allowedOauthScopes"] == ["openid", "email", "profile"]  # no user.admin scope


def test_the_trigger_role_writes_its_own_logs_and_nothing_else(prod_entra):
    graph = prod_entra.graph
    role = one(graph, "aws:iam/role:Role", "web-sso-groups-role")
    log_group = one(graph, "aws:cloudwatch/logGroup:LogGroup", "web-sso-groups-logs")
    assert allowed(graph, role) == {
        "logs:CreateLogStream": {f"{log_group.arn}:*"},
        "logs:PutLogEvents": {f"{log_group.arn}:*"},
    }
    assert not [
        a
        for a in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role.id
    ]


def test_the_trigger_role_proven_with_moto(monkeypatch, prod_entra):
    """moto with IAM enforced: the trigger's logging goes through under its role's document, and
    nothing else does. moto matches CloudWatch Logs actions only (on "*"); that the resource is the
    trigger's own log group is asserted by the test above."""
    graph = prod_entra.graph
    log_group = one(graph, "aws:cloudwatch/logGroup:LogGroup", "web-sso-groups-logs").inputs["name"]
    statements = [{**s, "Resource": "*"} for s in role_statements(graph, "web-sso-groups-role")]
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    with enforced_aws(monkeypatch) as aws:
        aws.admin.session().client("logs").create_log_group(logGroupName=log_group)
        trigger = aws.user("sso-groups", document).session()
        logs = trigger.client("logs", region_name=REGION)
        logs.create_log_stream(logGroupName=log_group, logStreamName="s")
        logs.put_log_events(
            logGroupName=log_group, logStreamName="s", logEvents=[{"timestamp": 1, "message": "m"}]
        )
        with pytest.raises(ClientError, match="AccessDenied"):
            logs.delete_log_group(logGroupName=log_group)
        with pytest.raises(ClientError, match="AccessDenied"):
            trigger.client("cognito-idp").list_users(UserPoolId=f"{REGION}_Offline000000")


def test_the_stacks_rules_still_pass_and_the_cost_is_unchanged(prod_entra, prod: OfflineRun):
    assert [str(v) for verdict in evaluate(prod_entra.graph, PROD) for v in verdict.violations] == []
    assert pricing.total(pricing.estimate(prod_entra.graph)) == pricing.total(pricing.estimate(prod.graph))


def test_dev_with_a_saml_provider_passes_the_rules_it_passed_before(dev_okta):
    waivers = json.loads(stack_config("dev")["chatbot:security_waivers"])
    verdicts = {v.rule.id: v.status for v in evaluate(dev_okta.graph, DEV, waivers)}
    assert {rule for rule, status in verdicts.items() if status != "pass"} == {"cloudfront-tls"}


def test_stacks_without_sso_have_no_trigger_or_provider(prod: OfflineRun):
    graph = prod.graph
    assert graph.of_type(PROVIDER) == []
    assert "lambdaConfig" not in one(graph, POOL).inputs
    assert one(graph, CLIENT).inputs["supportedIdentityProviders"] == ["COGNITO"]
    assert not [f for f in graph.of_type(FUNCTION) if "sso" in f.name]


def test_the_packaging_command_builds_the_trigger_without_the_core_library():
    with zipfile.ZipFile(build_function_zip(PROJECT_ROOT, "sso_groups")) as archive:
        names = archive.namelist()
    assert "lambdas/sso_groups/handler.py" in names
    assert not [name for name in names if name.startswith("chatbot/")]


@pytest.mark.skipif(bool(terraform.unavailable()), reason=f"{terraform.unavailable()}")
@pytest.mark.parametrize("stack", ["prod_entra", "dev_okta"])
def test_terraform_validate_accepts_both_kinds_of_provider(stack: str, request):
    run: OfflineRun = request.getfixturevalue(stack)
    rendered = terraform.render(run.graph, terraform.provider_schema(), "us-east-1")
    assert rendered.unmapped == []
    assert "aws_cognito_identity_provider" in rendered.document["resource"]
    assert terraform.findings(terraform.validate(rendered.document, terraform.WORK_DIR / stack)) == []


# --- the settings: clear errors, optional ----------------------------------------------------


def sso_error(**sso: object) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(stack_config("dev", sso=sso))
    return str(caught.value)


def test_the_stack_files_need_no_sso():
    assert parse_stack_config(stack_config("dev")).sso is None
    assert parse_stack_config(stack_config("prod")).sso is None


@pytest.mark.parametrize(
    ("sso", "message"),
    [
        ({**ENTRA, "saml_metadata_url": "https://x.example/metadata"}, "not both and not neither"),
        ({"provider_name": "Entra"}, "not both and not neither"),
        ({**ENTRA, "client_secret": "hunter2"}, "never put the secret in the stack file"),
        ({k: v for k, v in ENTRA.items() if k != "client_secret_id"}, "needs client_id and client_secret_id"),
        ({**OKTA_SAML, "client_id": "x"}, "a SAML provider needs only saml_metadata_url"),
        ({**ENTRA, "role_mapping": {ADMINS: "admin!"}}, "a role is 'admin' or a group name"),
        ({**ENTRA, "role_mapping": {ADMINS: []}}, "at least one role"),
        ({**ENTRA, "oidc_issuer": "http://plain.example"}, "oidc_issuer"),
        ({**ENTRA, "provider_name": "Cognito"}, "reserved"),
        ({**ENTRA, "provider_name": "My_IdP"}, "provider_name"),
        ({**ENTRA, "scopes": "email profile"}, "openid"),
    ],
)
def test_bad_sso_settings_fail_with_the_key_and_what_to_do(sso, message):
    error = sso_error(**sso)
    assert "chatbot:sso" in error, error
    assert message in error, error


def test_a_role_may_be_given_as_one_name():
    config = parse_stack_config(stack_config("dev", sso=ENTRA)).sso
    assert isinstance(config, SsoConfig)
    assert config.role_mapping == {ADMINS: ["admin"], "research-team-id": ["research"]}
    assert config.provider_type == "OIDC"


def test_the_stack_outputs_what_the_providers_app_registration_needs(prod_entra, dev_okta):
    assert prod_entra.outputs["sso_redirect_url"].startswith("https://chatbot-prod-")
    assert prod_entra.outputs["sso_redirect_url"].endswith(
        ".auth.us-east-1.amazoncognito.com/oauth2/idpresponse"
    )
    assert "sso_saml_entity_id" not in prod_entra.outputs
    assert dev_okta.outputs["sso_redirect_url"].endswith(".amazoncognito.com/saml2/idpresponse")
    pool = one(dev_okta.graph, POOL)
    assert dev_okta.outputs["sso_saml_entity_id"] == f"urn:amazon:cognito:sp:{pool.id}"


# --- preflight: the client secret is where the stack file says ---------------------------------


def test_preflight_reads_the_client_secret_as_pulumi_up_will(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        name = "chatbot/prod/entra"

        def check(**sso: object) -> tuple[str, str]:
            config = parse_stack_config(stack_config("prod", sso={**ENTRA, "client_secret_id": name, **sso}))
            result = sso_client_secret(config, secrets)
            return result.status, result.detail

        status, detail = check()
        assert status == "fail"
        assert "ResourceNotFoundException" in detail
        assert "create-secret" in detail
        secrets.create_secret(Name=name, SecretString=json.dumps({"client_secret": "s3cr3t"}))
        assert check()[0] == "ok"
        assert check(client_secret_key="client_secret")[0] == "ok"
        status, detail = check(client_secret_key="other")
        assert status == "fail"
        assert "'other'" in detail
    saml = parse_stack_config(stack_config("dev", sso=OKTA_SAML))
    assert sso_client_secret(saml, None).status == "skip"
    assert sso_client_secret(parse_stack_config(stack_config("dev")), None).status == "skip"
