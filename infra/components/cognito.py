"""The web app's users: a Cognito user pool, its OIDC app client and hosted-UI domain.
Children of the WebEdge component (infra/components/web_edge.py), which calls this."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def user_pool(
    name: str,
    parent: pulumi.Resource,
    host: pulumi.Output[str],
    *,
    stack: str,
    mfa: str,
    allow_self_signup: bool,
    deletion_protection: bool,
) -> tuple[aws.cognito.UserPool, aws.cognito.UserPoolClient, aws.cognito.UserPoolDomain]:
    """The pool, the app's OIDC client (for `st.login`, code flow back to `host`) and the hosted-UI domain."""
    child = pulumi.ResourceOptions(parent=parent)
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
        opts=child,
    )
    client = aws.cognito.UserPoolClient(
        f"{name}-client",
        user_pool_id=pool.id,
        generate_secret=True,  # st.login is a confidential OIDC client (authorization code flow)
        allowed_oauth_flows_user_pool_client=True,
        allowed_oauth_flows=["code"],
        allowed_oauth_scopes=["openid", "email", "profile"],
        supported_identity_providers=["COGNITO"],
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
