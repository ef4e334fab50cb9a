"""The stack configuration: every key a `Pulumi.<stack>.yaml` may set, validated before any resource.

Keys live in the `chatbot:` namespace. Structured values (lists, mappings) arrive from the CLI as
JSON strings; each section is a pydantic model with `extra="forbid"`, so a typo fails with the key
named instead of being silently ignored. docs/DEPLOY.md documents every key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chatbot.errors import ConfigError
from chatbot.models.catalog import ModelCatalog, parse_model_specs
from chatbot.models.deployment import CpuLlamaCppDeployment, CustomScriptDeployment, EmbeddingsDeployment
from chatbot.models.spec import ModelSpec
from chatbot.policy.limits import ROLE_PATTERN, LimitsConfig

NAMESPACE = "chatbot"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


#: The kinds that can serve the semantic search's embeddings.
EMBEDDINGS_KINDS = (EmbeddingsDeployment, CustomScriptDeployment, CpuLlamaCppDeployment)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NetworkConfig(_Section):
    cidr_block: str = "10.20.0.0/16"
    #: 1 is cheapest; one per AZ (2) keeps egress working when an AZ fails; 0 with nat_instance_type.
    nat_gateways: int = Field(1, ge=0, le=2)
    #: Instead of NAT gateways: one NAT instance of this type (e.g. t4g.nano, about $4 a month).
    nat_instance_type: str | None = None
    #: AZs the interface endpoints sit in: 1 halves their cost; 2 survive an AZ outage.
    interface_endpoint_azs: int = Field(2, ge=1, le=2)
    flow_log_retention_days: int = Field(30, ge=1)

    @model_validator(mode="after")
    def _one_way_out(self) -> NetworkConfig:
        if bool(self.nat_gateways) == bool(self.nat_instance_type):
            raise ValueError(
                "set nat_gateways (1 or 2) or nat_instance_type, not both and not neither: the chat "
                "API fetches Cognito's signing keys and the web tasks call the chat API's function "
                "URL over the internet (no VPC endpoint serves either)"
            )
        return self


class ChatApiConfig(_Section):
    #: Opt-in. AWS keeps 100 of an account's concurrency unreserved and a new account's limit is
    #: often 10, so any reservation fails there (`python -m infra.preflight` checks the account).
    #: The timeout and each model's max_new_tokens_limit bound a stream whose client has left.
    reserved_concurrency: int | None = Field(None, ge=1)
    timeout_s: int = Field(300, ge=10, le=900)
    memory_mb: int = Field(1024, ge=256, le=10240)
    log_retention_days: int = Field(30, ge=1)


class SemanticSearchConfig(_Section):
    enabled: bool = False
    #: The embeddings model (task: embedding; kind embeddings, custom-script or cpu-llamacpp).
    embeddings: ModelSpec | None = None
    db_instance_class: str = "db.t4g.micro"
    db_allocated_storage_gb: int = Field(20, ge=20)
    db_backup_retention_days: int = Field(7, ge=1, le=35)
    #: The PostgreSQL major version on RDS (pgvector ships with 15.2+ and 16). The major only:
    #: RDS refuses new instances on old minors, and auto minor upgrades would make a minor pin drift.
    db_engine_version: str = "16"
    #: rds: one RDS PostgreSQL instance (db_instance_class, runs around the clock);
    #: aurora-serverless: Aurora PostgreSQL Serverless v2, which pauses at 0 ACU when idle (pgvector
    #: included; the first query after a pause waits about 15 seconds while it resumes).
    db_engine: Literal["rds", "aurora-serverless"] = "rds"
    #: Aurora Serverless v2 capacity, in ACUs (1 ACU is about 2 GB of memory). 0 pauses when idle.
    db_min_acu: float = Field(0, ge=0, le=256)
    db_max_acu: float = Field(2, ge=1, le=256)
    #: Idle seconds before a cluster at db_min_acu 0 pauses (AWS allows 300 to 86400).
    db_auto_pause_s: int = Field(300, ge=300, le=86400)

    @field_validator("db_engine_version")
    @classmethod
    def _major_only(cls, version: str) -> str:
        if not version.isdigit():
            raise ValueError(
                f"{version!r}: give the major version only, e.g. '16' (RDS refuses new instances on "
                "retired minors, and a minor pin drifts once RDS upgrades the instance)"
            )
        return version

    @model_validator(mode="after")
    def _embeddings_when_enabled(self) -> SemanticSearchConfig:
        if self.enabled and self.embeddings is None:
            raise ValueError("embeddings: a ModelSpec is required when enabled is true")
        if self.embeddings is not None:
            if self.embeddings.task != "embedding":
                raise ValueError("embeddings.task must be 'embedding'")
            if not isinstance(self.embeddings.deployment, EMBEDDINGS_KINDS):
                raise ValueError(
                    "embeddings.deployment.kind must be embeddings, custom-script or cpu-llamacpp"
                )
        return self


class WebConfig(_Section):
    cpu: int = Field(512, ge=256)
    memory_mb: int = Field(1024, ge=512)
    min_tasks: int = Field(1, ge=1)
    max_tasks: int = Field(2, ge=1)
    #: The tasks' CPU: arm64 (Graviton) costs 20% less per vCPU and GB; its image is built for
    #: linux/arm64, which on an x86 machine needs Docker's arm64 emulation (docs/DEPLOY.md).
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    #: Cognito MFA: OFF, OPTIONAL (users may add a TOTP app) or ON (required).
    mfa: Literal["OFF", "OPTIONAL", "ON"] = "OPTIONAL"
    #: False: only administrators create users (the product is not public by default).
    allow_self_signup: bool = False
    #: Requests per 5 minutes per client IP before WAF blocks it.
    rate_limit_per_5min: int = Field(1000, ge=100)
    #: A custom domain with an ACM certificate in us-east-1. Without one, CloudFront serves its
    #: *.cloudfront.net name, where it enforces only TLSv1 (an AWS limit): see security_waivers.
    domain_name: str | None = None
    certificate_arn: str | None = None
    #: The OpenAI-compatible gateway's route for API clients: /v1/* through its own CloudFront
    #: distribution behind the same WAF (docs/DEPLOY.md, "The gateway route").
    gateway: bool = True
    #: Requests per 5 minutes per client IP to /v1/ before WAF blocks it (on top of the rule above).
    gateway_rate_limit_per_5min: int = Field(300, ge=100)
    #: The gateway's custom domain; the certificate_arn must cover it too.
    gateway_domain_name: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> WebConfig:
        if self.gateway_domain_name and not self.certificate_arn:
            raise ValueError("gateway_domain_name needs certificate_arn (a certificate that covers it)")
        if self.max_tasks < self.min_tasks:
            raise ValueError("max_tasks must be at least min_tasks")
        if bool(self.domain_name) != bool(self.certificate_arn):
            raise ValueError("domain_name and certificate_arn go together")
        if self.certificate_arn and ":us-east-1:" not in self.certificate_arn:
            raise ValueError("certificate_arn: CloudFront needs an ACM certificate in us-east-1")
        return self


#: The pool attribute that holds a federated user's groups, as the identity provider last sent
#: them (attribute mapping). Custom attributes are named `custom:<name>` in tokens and triggers.
SSO_GROUPS_ATTRIBUTE = "groups"
#: Cognito's limit on a mapped attribute's value (developer guide, "Mapping IdP attributes to
#: profiles and tokens": "the maximum value length of 2,048 characters").
SSO_GROUPS_MAX_CHARS = 2048
#: Defaults for the attribute mapping: OIDC providers send these claims; SAML providers send
#: attributes named by URIs (Entra ID's are shown; Okta's SAML app names them as you configure).
OIDC_EMAIL_CLAIM = "email"
SAML_EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"


class SsoConfig(_Section):
    """An external identity provider for the user pool (Entra ID, Okta, ... over OIDC or SAML),
    and how its groups become the app's roles (docs/DEPLOY.md, "Single sign-on").

    Cognito's `cognito:groups` never carries a federated provider's groups: the provider's group
    claim is mapped to the pool attribute `custom:groups`, and the pre-token-generation trigger
    (lambdas/sso_groups) turns it into roles in the ID token's `cognito:groups`."""

    #: Cognito's name for the provider (shown on the hosted sign-in page, and the prefix of its
    #: users' usernames, e.g. `Entra_<sub>`). 3-32 letters, digits, '.' or '-': within the API's
    #: ProviderNameTypeV2 (no underscore, which separates the prefix, nor spaces).
    provider_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]{1,30}[A-Za-z0-9]$")
    #: OIDC: the issuer URL (Cognito reads `<issuer>/.well-known/openid-configuration`).
    oidc_issuer: str | None = Field(None, pattern=r"^https://")
    #: SAML: the provider's metadata URL (a federation metadata document).
    saml_metadata_url: str | None = Field(None, pattern=r"^https://")
    #: OIDC: the application (client) id registered with the provider.
    client_id: str | None = None
    #: OIDC: the Secrets Manager secret (ARN or name) that holds the client secret, never the
    #: secret itself. Its SecretString is the secret, or JSON with the key `client_secret_key`.
    client_secret_id: str | None = None
    client_secret_key: str | None = None
    #: OIDC: the scopes Cognito asks the provider for (space separated; openid is required).
    scopes: str = "openid email profile"
    #: The provider's claim (OIDC) or attribute name (SAML) that lists the user's groups:
    #: `groups` for Entra ID's and Okta's OIDC apps, Entra ID's SAML URI below for SAML.
    groups_claim: str = Field("groups", min_length=1, max_length=256)
    #: The provider's claim or attribute that holds the user's email address.
    email_claim: str | None = None
    #: Provider group (an Entra group's object id, an Okta group's name) -> the app's role(s):
    #: `admin`, or any group that limits are set for (chatbot:limits). Groups not named here
    #: give nothing: the mapping is the allow-list, so a provider group that happens to be
    #: called `admin` does not make anyone an administrator.
    role_mapping: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _no_secret_here(cls, data: object) -> object:
        if isinstance(data, dict) and "client_secret" in data:
            raise ValueError(
                "client_secret: never put the secret in the stack file. Store it in Secrets "
                "Manager (aws secretsmanager create-secret --name chatbot/sso --secret-string ...) "
                "and give its ARN or name as client_secret_id"
            )
        if isinstance(data, dict) and isinstance(mapping := data.get("role_mapping"), dict):
            # one role may be given as a plain string
            data = {
                **data,
                "role_mapping": {
                    group: [roles] if isinstance(roles, str) else roles for group, roles in mapping.items()
                },
            }
        return data

    @field_validator("role_mapping")
    @classmethod
    def _role_names(cls, mapping: dict[str, list[str]]) -> dict[str, list[str]]:
        for group, roles in mapping.items():
            if not group.strip() or len(group) > 256:
                raise ValueError(f"{group!r}: a provider group name or id (1-256 characters)")
            if not roles:
                raise ValueError(f"{group!r}: map it to at least one role, e.g. 'admin'")
            for role in roles:
                if not re.match(ROLE_PATTERN, role):
                    raise ValueError(
                        f"{group!r} -> {role!r}: a role is 'admin' or a group name "
                        "(letters, digits, '.', '_', '-', spaces; at most 128)"
                    )
        return mapping

    @model_validator(mode="after")
    def _one_kind(self) -> SsoConfig:
        if bool(self.oidc_issuer) == bool(self.saml_metadata_url):
            raise ValueError(
                "give oidc_issuer (an OIDC provider) or saml_metadata_url (a SAML provider), "
                "not both and not neither"
            )
        if self.oidc_issuer:
            if not self.client_id or not self.client_secret_id:
                raise ValueError(
                    "an OIDC provider needs client_id and client_secret_id (the Secrets Manager "
                    "secret, ARN or name, that holds the client secret)"
                )
            if "openid" not in self.scopes.split():
                raise ValueError("scopes must include openid")
        elif self.client_id or self.client_secret_id or self.client_secret_key:
            raise ValueError(
                "client_id and client_secret_id are for OIDC; a SAML provider needs only saml_metadata_url"
            )
        if self.provider_name.upper() in {
            "COGNITO",
            "GOOGLE",
            "FACEBOOK",
            "LOGINWITHAMAZON",
            "SIGNINWITHAPPLE",
        }:
            raise ValueError(f"provider_name {self.provider_name!r} is reserved by Cognito")
        return self

    @property
    def provider_type(self) -> Literal["OIDC", "SAML"]:
        return "OIDC" if self.oidc_issuer else "SAML"

    def attribute_mapping(self) -> dict[str, str]:
        """User pool attribute -> the provider's claim (CreateIdentityProvider's AttributeMapping)."""
        default_email = OIDC_EMAIL_CLAIM if self.provider_type == "OIDC" else SAML_EMAIL_CLAIM
        return {
            "email": self.email_claim or default_email,
            f"custom:{SSO_GROUPS_ATTRIBUTE}": self.groups_claim,
        }


class AlertsConfig(_Section):
    #: Subscribed to the stack's alerts topic (AWS sends a confirmation mail first).
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$")
    #: An SNS topic of your own instead of the stack's (alarms and the budget alert go there).
    sns_topic_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:sns:")


class StackConfig(_Section):
    """Everything the program reads. Field names are the config keys after `chatbot:`."""

    models: list[ModelSpec]
    #: RDS, the documents bucket and Cognito refuse deletion; databases keep a final snapshot.
    deletion_protection: bool = False
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    chat_api: ChatApiConfig = Field(default_factory=ChatApiConfig)
    semantic_search: SemanticSearchConfig = Field(default_factory=SemanticSearchConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    #: The most this stack may cost per month at idle (USD, the plan's estimate); the
    #: cost-within-budget rule fails a stack over it. None: no budget.
    budget_usd_month: float | None = Field(None, gt=0)
    #: Where alarms and the budget alert go (infra/components/monitoring.py).
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    #: Default limits per role (`user` is everyone, `admin`, or any Cognito group), e.g.
    #: `{"user": {"tokens_per_day": 200000, "usd_per_month": 20}}`; administrators change them
    #: at runtime (chatbot/policy/limits.py). None: unlimited until they do.
    limits: LimitsConfig | None = None
    #: An external identity provider (OIDC or SAML) and its groups -> roles. None: Cognito's own
    #: users only.
    sso: SsoConfig | None = None
    #: rule id -> why this stack accepts failing it. Shown in the plan next to the rule.
    security_waivers: dict[str, str] = Field(default_factory=dict)

    @field_validator("security_waivers")
    @classmethod
    def _reasons_given(cls, waivers: dict[str, str]) -> dict[str, str]:
        for rule, reason in waivers.items():
            if len(reason.strip()) < 10:
                raise ValueError(f"{rule}: say why the rule is waived (at least a sentence)")
        return waivers

    def all_models(self) -> list[ModelSpec]:
        """The chat models plus the embeddings model: every endpoint this stack deploys."""
        extra = [self.semantic_search.embeddings] if self.semantic_search.enabled else []
        return [*self.models, *(spec for spec in extra if spec is not None)]


def parse_stack_config(raw: Mapping[str, Any], source: str = "stack config") -> StackConfig:
    """Validate `{"chatbot:<key>": value}` (values as JSON strings or already parsed).

    Raises ConfigError naming the key, e.g. `chatbot:web.mfa: Input should be 'OFF', ...`."""
    values: dict[str, Any] = {}
    for full_key, value in raw.items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        if key not in StackConfig.model_fields:
            known = ", ".join(f"{NAMESPACE}:{name}" for name in StackConfig.model_fields)
            raise ConfigError(f"{source}: unknown key {full_key!r}. Known keys: {known}.")
        values[key] = _decode(value)
    if "models" not in values:
        raise ConfigError(f"{source}: {NAMESPACE}:models is required (a list of ModelSpecs).")
    # Models first, through the catalog's reader, so errors name the model and its field.
    specs = parse_model_specs(values.pop("models"), f"{source}: {NAMESPACE}:models")
    ModelCatalog(specs)  # names must be unique
    try:
        config = StackConfig.model_validate({**values, "models": specs})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{source}: {NAMESPACE}:{where}: {first['msg']}") from None
    _check_endpoint_names(config, source)
    return config


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)  # structured values, numbers and booleans
    except json.JSONDecodeError:
        return value  # a plain string value


def _check_endpoint_names(config: StackConfig, source: str) -> None:
    seen: set[str] = set()
    for spec in config.all_models():
        if spec.endpoint_name in seen:
            raise ConfigError(
                f"{source}: {NAMESPACE}:models: endpoint_name {spec.endpoint_name!r} is used twice"
            )
        seen.add(spec.endpoint_name)


def engine_config() -> dict[str, Any]:
    """Every config value the engine handed the program (pulumi.Config reads one key at a time;
    listing them all is what lets an unknown key fail instead of being ignored)."""
    from pulumi.runtime import config as runtime_config

    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def read_region(raw: Mapping[str, Any]) -> str:
    region = raw.get("aws:region")
    if not region:
        raise ConfigError("aws:region is not set. Run: pulumi config set aws:region us-east-1")
    return str(region)


def config_from_stack_file(document: Mapping[str, Any]) -> dict[str, str]:
    """A Pulumi.<stack>.yaml's `config:` as the CLI hands it to a program: structured values as JSON."""
    values = document.get("config") or {}
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def stack_file(stack: str, root: Path = PROJECT_ROOT) -> dict[str, str]:
    """The config of `Pulumi.<stack>.yaml`, as the CLI would hand it to the program."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise ConfigError(f"{path.name} not found: stacks here are {', '.join(sorted(stacks(root)))}")
    return config_from_stack_file(yaml.safe_load(path.read_text()) or {})


def stacks(root: Path = PROJECT_ROOT) -> list[str]:
    return sorted(path.name.split(".")[1] for path in root.glob("Pulumi.*.yaml"))
