"""The whole stack, composed from the components; `__main__.py` and the offline plan both call it.

What `pulumi up` runs imports nothing of the offline tooling (mocks, security rules, plan):
infra/checks/offline_stack.py builds this same program under mocks for the plan and the tests."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from chatbot.errors import ConfigError
from chatbot.models.catalog import load_catalog
from chatbot.models.deployment import BedrockDeployment, CpuLlamaCppDeployment
from chatbot.models.spec import ModelSpec
from infra.build.inference_image import InferenceImage, InferenceImageArgs
from infra.build.packaging import lambda_code
from infra.components import regional
from infra.components.arena_refit import ArenaRefit, ArenaRefitArgs
from infra.components.chat_backend import ChatBackend, ChatBackendArgs
from infra.components.gateway_edge import GatewayEdge, GatewayEdgeArgs
from infra.components.llm import LargeLanguageModel, LargeLanguageModelArgs, VolumeKey, needs_volume_key
from infra.components.monitoring import Monitoring, MonitoringArgs
from infra.components.network import INTERFACE_SERVICES, Network, NetworkArgs
from infra.components.vector_store import VectorStore, VectorStoreArgs
from infra.components.web_edge import WebEdge, WebEdgeArgs
from infra.components.web_service import WebService, WebServiceArgs
from infra.config import PROJECT_ROOT, StackConfig, parse_stack_config, read_region
from infra.models import Site, kind_of
from infra.models.bedrock import BedrockModel

PROJECT = "chatbot"


def sagemaker_safe(name: str) -> str:
    """A model name as SageMaker takes it in the names Pulumi derives from it (models, endpoint
    configs: letters, digits and hyphens only): `qwen2.5-7b` -> `qwen2-5-7b`."""
    return re.sub(r"[^A-Za-z0-9-]", "-", name)


def endpoint_name(spec: ModelSpec, stack: str) -> str:
    """The deployed SageMaker endpoint: the spec's name, made unique per stack in one account."""
    return f"{spec.endpoint_name}-{stack}"


def check_deployable(
    config: StackConfig, region: str, stack: str, source: str, root: Path = PROJECT_ROOT
) -> None:
    """What the schema cannot know: the region, files on disk, the image's model catalog.
    Runs before any resource, so a bad stack fails with nothing half-created."""
    try:
        regional.dlc_account(region)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    served = {spec.name: spec for spec in load_catalog(root / "models.yaml")}
    for spec in config.all_models():
        if len(deployed := endpoint_name(spec, stack)) > 63:
            raise ConfigError(
                f"{source}: model {spec.name!r}: endpoint_name: {deployed!r} is over SageMaker's 63 characters"
            )
        site = Site(
            region=region, root=root, where=f"{source}: model {spec.name!r}: deployment", served=served
        )
        kind_of(spec.deployment).check(spec, site)


def interface_endpoints(config: StackConfig) -> dict[str, str]:
    """The interface endpoints this stack's code calls (service -> why): no more, since each costs
    about $7.30 a month per AZ."""
    deployments = [spec.deployment for spec in config.all_models()]
    needed = {"secretsmanager"}  # the web tasks' auth secret; the database's secret
    if any(isinstance(deployment, BedrockDeployment) for deployment in deployments):
        needed.add("bedrock-runtime")
    if any(deployment.on_sagemaker for deployment in deployments):
        needed.add("sagemaker.runtime")
    return {service: why for service, why in INTERFACE_SERVICES.items() if service in needed}


def load_config(raw: Mapping[str, Any], stack: str) -> tuple[StackConfig, str]:
    source = f"Pulumi.{stack}.yaml"
    region = read_region(raw)
    config = parse_stack_config(raw, source)
    check_deployable(config, region, stack, source)
    return config, region


def build_stack(
    config: StackConfig,
    *,
    region: str,
    stack: str,
    profile: str | None = None,
    require_artifacts: bool = True,
) -> dict[str, pulumi.Output[Any]]:
    """Create every resource of one stack; returns the stack outputs. `profile` is the stack's
    `aws:profile`, for the parts that call AWS themselves (the CodeBuild run)."""
    protect = config.deletion_protection
    search = config.semantic_search
    # Packaged first: a missing folder or unbuilt layer stops the run before any resource exists.
    chat_code = lambda_code(PROJECT_ROOT, "chat_api", require_built=require_artifacts)
    indexer_code = None
    if search.enabled:
        indexer_code = lambda_code(PROJECT_ROOT, "document_indexer", require_built=require_artifacts)
    network = Network(
        "network",
        NetworkArgs(
            region=region,
            config=config.network,
            interface_endpoints=interface_endpoints(config),
        ),
    )
    inference_image = None
    if any(isinstance(spec.deployment, CpuLlamaCppDeployment) for spec in config.all_models()):
        inference_image = InferenceImage(
            "inference", InferenceImageArgs(project_root=PROJECT_ROOT, force_delete=not protect)
        )

    volume_key_arn = None
    if any(needs_volume_key(spec) for spec in config.all_models()):
        volume_key_arn = VolumeKey("sagemaker-volumes").arn

    def model(spec: ModelSpec) -> LargeLanguageModel | BedrockModel:
        if not spec.deployment.on_sagemaker:
            return BedrockModel(spec)  # Bedrock serves it: no endpoint resource
        return LargeLanguageModel(
            f"llm-{sagemaker_safe(spec.name)}",
            LargeLanguageModelArgs(
                spec=spec,
                region=region,
                endpoint_name=endpoint_name(spec, stack),
                project_root=PROJECT_ROOT,
                inference_image=inference_image,
                force_destroy_buckets=not protect,
                aws_profile=profile,
                log_retention_days=config.chat_api.log_retention_days,
                volume_key_arn=volume_key_arn,
            ),
        )

    endpoints = [(spec.name, model(spec)) for spec in config.models]
    vector_store = None
    if indexer_code is not None and search.embeddings is not None:
        vector_store = VectorStore(
            "retrieval",
            VectorStoreArgs(
                region=region,
                stack=stack,
                project_root=PROJECT_ROOT,
                network=network,
                config=search,
                embeddings_endpoint_name=endpoint_name(search.embeddings, stack),
                indexer_code=indexer_code,
                inference_image=inference_image,
                deletion_protection=protect,
                aws_profile=profile,
                log_retention_days=config.chat_api.log_retention_days,
                volume_key_arn=volume_key_arn,
            ),
        )
        endpoints.append((search.embeddings.name, vector_store.embeddings))

    edge = WebEdge(
        "web",
        WebEdgeArgs(
            region=region,
            stack=stack,
            network=network,
            config=config.web,
            deletion_protection=protect,
            aws_profile=profile,
            sso=config.sso,
            log_retention_days=config.chat_api.log_retention_days,
        ),
    )
    backend = ChatBackend(
        "chat",
        ChatBackendArgs(
            region=region,
            stack=stack,
            code=chat_code,
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.functions_security_group.id,
            models=endpoints,
            database=vector_store.database if vector_store else None,
            documents_bucket=vector_store.documents if vector_store else None,
            config=config.chat_api,
            deletion_protection=protect,
            user_pool_id=edge.user_pool_id,
            user_pool_client_id=edge.user_pool_client_id,
            limits=config.limits,
        ),
    )
    ArenaRefit("arena-refit", ArenaRefitArgs(stack=stack, function_arn=backend.function_arn))
    gateway = None
    if config.web.gateway:
        gateway = GatewayEdge(
            "gateway",
            GatewayEdgeArgs(
                region=region,
                stack=stack,
                function_name=backend.function_name,
                function_url=backend.function_url,
                web_acl_arn=edge.web_acl_arn,
                config=config.web,
                log_retention_days=config.chat_api.log_retention_days,
                aws_profile=profile,
            ),
        )
    WebService(
        "web-app",
        WebServiceArgs(
            region=region,
            stack=stack,
            project_root=PROJECT_ROOT,
            network=network,
            edge=edge,
            chat_function_arn=backend.function_arn,
            chat_function_url=backend.function_url,
            gateway_url=gateway.url if gateway else None,
            config=config.web,
            deletion_protection=protect,
            log_retention_days=config.chat_api.log_retention_days,
        ),
    )
    monitoring = Monitoring(
        "monitoring",
        MonitoringArgs(
            stack=stack,
            chat_function_name=backend.function_name,
            budget_usd_month=config.budget_usd_month,
            alerts=config.alerts,
            indexer_function_name=vector_store.indexer_function_name if vector_store else None,
            dead_letter_queue_name=vector_store.dead_letter_queue_name if vector_store else None,
            database_metric=vector_store.database_metric if vector_store else None,
        ),
    )
    outputs: dict[str, pulumi.Output[Any]] = {
        "alerts_topic_arn": monitoring.topic_arn,
        "app_url": edge.url,
        "user_pool_id": edge.user_pool_id,
        "user_pool_client_id": edge.user_pool_client_id,
        "chat_api_url": backend.function_url,
        "models_table": backend.models_table_name,
        "history_table": backend.history_table_name,
        "endpoints": pulumi.Output.all(**{name: llm.endpoint_name for name, llm in endpoints}),
    }
    if config.sso is not None:
        # What the identity provider's app registration needs (docs/DEPLOY.md, "Single sign-on"):
        # the federation endpoints /oauth2/idpresponse (OIDC redirect URI) and /saml2/idpresponse
        # (SAML ACS URL), and for SAML the pool's entity id (audience).
        path = "/oauth2/idpresponse" if config.sso.provider_type == "OIDC" else "/saml2/idpresponse"
        outputs["sso_redirect_url"] = pulumi.Output.concat("https://", edge.hosted_ui_host, path)
        if config.sso.provider_type == "SAML":
            outputs["sso_saml_entity_id"] = pulumi.Output.concat("urn:amazon:cognito:sp:", edge.user_pool_id)
    if gateway is not None:
        outputs["gateway_url"] = gateway.url
    if vector_store is not None:
        outputs["documents_bucket"] = vector_store.documents_bucket_name
    return outputs
