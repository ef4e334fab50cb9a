"""Single sign-on: an external OIDC or SAML identity provider for the user pool, and the
pre-token-generation trigger that turns its groups into the app's roles (lambdas/sso_groups).
Children of the WebEdge component, built by cognito.user_pool when the stack sets `chatbot:sso`.

Order: the trigger first (the pool names it in lambda_config), then the pool, then the
provider and the permission that lets this pool, and only it, invoke the trigger; the app client
last (it lists the provider among its supported identity providers)."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra.build.packaging import STANDALONE, standalone_code
from infra.components.iam import assume_role_policy, log_statements, policy_document
from infra.components.lambda_function import RUNTIME
from infra.config import PROJECT_ROOT, SSO_GROUPS_ATTRIBUTE, SsoConfig
from lambdas.sso_groups.handler import ATTRIBUTE_ENV, PROVIDER_ENV, ROLE_MAPPING_ENV

FUNCTION = "sso_groups"
assert FUNCTION in STANDALONE  # no dependency layer: the trigger is standard library only
#: The trigger's event version: V1_0 customises the ID token (the token the app sends) and works
#: on every feature plan; V2_0 adds access tokens and needs Essentials or Plus (developer guide,
#: "Pre token generation Lambda trigger"; the provider's pre_token_generation_config.lambda_version).
TRIGGER_VERSION = "V1_0"
#: Cognito waits at most 5 seconds for a trigger; the mapping takes milliseconds.
TRIGGER_TIMEOUT_S = 5


def groups_attribute() -> str:
    """The mapped attribute as triggers and tokens name it."""
    return f"custom:{SSO_GROUPS_ATTRIBUTE}"


def groups_schema() -> aws.cognito.UserPoolSchemaArgs:
    """The pool's custom attribute for a federated user's groups. Declared on every pool (custom
    attributes can be added to a pool but never removed), so turning SSO on or off never changes
    the schema. String constraints are given so the provider does not see a change each run."""
    return aws.cognito.UserPoolSchemaArgs(
        name=SSO_GROUPS_ATTRIBUTE,
        attribute_data_type="String",
        mutable=True,  # Cognito rewrites mapped attributes at each federated sign-in
        developer_only_attribute=False,
        string_attribute_constraints=aws.cognito.UserPoolSchemaStringAttributeConstraintsArgs(
            min_length="0", max_length="2048"
        ),
    )


def token_trigger(
    name: str, parent: pulumi.Resource, *, stack: str, sso: SsoConfig, log_retention_days: int
) -> aws.lambda_.Function:
    """The trigger function with its log group and a role that may write those logs and nothing
    else (it calls no AWS service). Outside the VPC: it reaches nothing."""
    child = pulumi.ResourceOptions(parent=parent)
    function_name = f"chatbot-{stack}-sso-groups"
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-sso-groups-logs",
        name=f"/aws/lambda/{function_name}",
        retention_in_days=log_retention_days,
        opts=child,
    )
    role = aws.iam.Role(
        f"{name}-sso-groups-role", assume_role_policy=assume_role_policy("lambda.amazonaws.com"), opts=child
    )
    role_policy = aws.iam.RolePolicy(
        f"{name}-sso-groups-policy",
        role=role.id,
        policy=policy_document([log_statements(log_group.arn)]),
        opts=child,
    )
    code = standalone_code(PROJECT_ROOT, FUNCTION)
    return aws.lambda_.Function(
        f"{name}-sso-groups",
        name=function_name,
        runtime=RUNTIME,
        handler=code.handler,
        code=code.code,
        role=role.arn,
        timeout=TRIGGER_TIMEOUT_S,
        memory_size=128,
        environment=aws.lambda_.FunctionEnvironmentArgs(
            variables={
                PROVIDER_ENV: sso.provider_name,
                ATTRIBUTE_ENV: groups_attribute(),
                ROLE_MAPPING_ENV: json.dumps(sso.role_mapping, sort_keys=True),
            }
        ),
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[log_group, role_policy]),
    )


def allow_pool(
    name: str, parent: pulumi.Resource, trigger: aws.lambda_.Function, pool: aws.cognito.UserPool
) -> aws.lambda_.Permission:
    """Cognito invokes the trigger as cognito-idp.amazonaws.com, for this pool only."""
    return aws.lambda_.Permission(
        f"{name}-sso-groups-invoke",
        action="lambda:InvokeFunction",
        function=trigger.name,
        principal="cognito-idp.amazonaws.com",
        source_arn=pool.arn,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def client_secret(name: str, parent: pulumi.Resource, sso: SsoConfig) -> pulumi.Output[str]:
    """The OIDC client secret, read from Secrets Manager when the program runs. Cognito's API takes
    the value itself (provider_details.client_secret), so it lands in the stack's state: as a
    Pulumi secret, encrypted there, and never in the stack file."""
    version = aws.secretsmanager.get_secret_version_output(
        secret_id=str(sso.client_secret_id), opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    key = sso.client_secret_key

    def value(secret_string: str) -> str:
        if key is None:
            return secret_string
        try:
            return str(json.loads(secret_string)[key])
        except (ValueError, KeyError, TypeError):
            raise ValueError(
                f"chatbot:sso.client_secret_id {sso.client_secret_id!r}: its value is not a JSON "
                f"object with the key {key!r} (client_secret_key)"
            ) from None

    return pulumi.Output.secret(version.secret_string.apply(value))


def provider_details(name: str, parent: pulumi.Resource, sso: SsoConfig) -> dict[str, pulumi.Input[str]]:
    """CreateIdentityProvider's ProviderDetails, with the keys the API reference lists: for OIDC
    client_id, client_secret, attributes_request_method, oidc_issuer, authorize_scopes (the
    endpoints are discovered from the issuer); for SAML MetadataURL (or MetadataFile)."""
    if sso.provider_type == "SAML":
        return {"MetadataURL": str(sso.saml_metadata_url)}
    return {
        "client_id": str(sso.client_id),
        "client_secret": client_secret(name, parent, sso),
        "attributes_request_method": "GET",
        "oidc_issuer": str(sso.oidc_issuer),
        "authorize_scopes": sso.scopes,
    }


def identity_provider(
    name: str, parent: pulumi.Resource, pool: aws.cognito.UserPool, sso: SsoConfig
) -> aws.cognito.IdentityProvider:
    """The provider, with its email and group claims mapped to the pool's attributes."""
    return aws.cognito.IdentityProvider(
        f"{name}-sso",
        user_pool_id=pool.id,
        provider_name=sso.provider_name,
        provider_type=sso.provider_type,
        provider_details=provider_details(name, parent, sso),
        attribute_mapping=sso.attribute_mapping(),
        opts=pulumi.ResourceOptions(parent=parent),
    )
