"""The web app's users: a Cognito user pool, its OIDC app client and hosted-UI domain, and
optionally an external identity provider (infra/components/sso.py). Children of the WebEdge
component (infra/components/web_edge.py), which calls this."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.components import sso as single_sign_on
from infra.config import SsoConfig


def user_pool(
    name: str,
    parent: pulumi.Resource,
    host: pulumi.Output[str],
    *,
    stack: str,
    mfa: str,
    allow_self_signup: bool,
    deletion_protection: bool,
    sso: SsoConfig | None = None,
    log_retention_days: int = 30,
) -> tuple[aws.cognito.UserPool, aws.cognito.UserPoolClient, aws.cognito.UserPoolDomain]:
    """The pool, the app's OIDC client (for `st.login`, code flow back to `host`) and the hosted-UI
    domain. With `sso`, the external provider too, and the trigger that maps its groups to roles."""
    child = pulumi.ResourceOptions(parent=parent)
    trigger = None
    if sso is not None:
        trigger = single_sign_on.token_trigger(
            name, parent, stack=stack, sso=sso, log_retention_days=log_retention_days
        )
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
        mfa_configuration=mfa,
        software_token_mfa_configuration=(
            aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True) if mfa != "OFF" else None
        ),
        admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(
            allow_admin_create_user_only=not allow_self_signup
        ),
        account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
            recovery_mechanisms=[
                aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(
                    name="verified_email", priority=1
                )
            ]
        ),
        deletion_protection="ACTIVE" if deletion_protection else "INACTIVE",
        # Where a federated user's groups land (attribute mapping); on every pool, SSO or not.
        schemas=[single_sign_on.groups_schema()],
        lambda_config=aws.cognito.UserPoolLambdaConfigArgs(
            pre_token_generation_config=aws.cognito.UserPoolLambdaConfigPreTokenGenerationConfigArgs(
                lambda_arn=trigger.arn, lambda_version=single_sign_on.TRIGGER_VERSION
            )
        )
        if trigger is not None
        else None,
        opts=child,
    )
    identity_providers: list[pulumi.Input[str]] = ["COGNITO"]
    write_attributes = None
    if sso is not None and trigger is not None:
        single_sign_on.allow_pool(name, parent, trigger, pool)
        provider = single_sign_on.identity_provider(name, parent, pool, sso)
        # The client lists the provider by name once it exists (the output carries the wait).
        identity_providers.append(provider.provider_name)
        # Cognito writes mapped attributes through the app client at each federated sign-in, so
        # the client needs write access to them (UserPoolClientType.WriteAttributes). Users cannot
        # write them themselves: UpdateUserAttributes needs the aws.cognito.signin.user.admin scope,
        # which this client's OAuth flow does not grant; and the trigger trusts custom:groups only
        # for this provider's users.
        write_attributes = sorted(sso.attribute_mapping())
    client = aws.cognito.UserPoolClient(
        f"{name}-client",
        user_pool_id=pool.id,
        generate_secret=True,  # st.login is a confidential OIDC client (authorization code flow)
        allowed_oauth_flows_user_pool_client=True,
        allowed_oauth_flows=["code"],
        allowed_oauth_scopes=["openid", "email", "profile"],
        supported_identity_providers=identity_providers,
        write_attributes=write_attributes,
        callback_urls=[pulumi.Output.concat("https://", host, "/oauth2callback")],
        logout_urls=[pulumi.Output.concat("https://", host, "/")],
        # The admin password flow takes IAM credentials (AdminInitiateAuth), never a browser's:
        # `python -m infra.smoke --stack S` signs its test user in with it.
        explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
        prevent_user_existence_errors="ENABLED",
        opts=child,
    )
    # Hosted-UI prefixes are global: derive one from the pool id, which is unique already.
    domain = aws.cognito.UserPoolDomain(
        f"{name}-login",
        user_pool_id=pool.id,
        domain=pool.id.apply(lambda pool_id: f"chatbot-{stack}-{pool_id.split('_')[-1].lower()}"),
        opts=child,
    )
    return pool, client, domain
