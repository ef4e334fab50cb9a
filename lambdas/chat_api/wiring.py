"""Builds the ChatService and the token verifier from settings: the only place that knows
whether we run locally or in AWS."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from chatbot.api.local_tokens import local_secret
from chatbot.chat.dynamodb_store import DynamoDBHistoryStore
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.chat.service import ChatService, ServiceLimits
from chatbot.chat.store import HistoryStore
from chatbot.chat.vote_rules import VoteRules
from chatbot.models.catalog import ModelCatalog, load_catalog
from chatbot.models.clients import RuntimeClients, bedrock_runtime_client, sagemaker_runtime_client
from chatbot.models.registry import load_registry
from chatbot.models.spec import ModelSpec
from chatbot.policy.dynamodb_stream_leases import DynamoDBStreamLeases
from chatbot.policy.postgres_stream_leases import PostgresStreamLeases
from chatbot.policy.stream_leases import StreamLeases, UnlimitedStreams
from chatbot.postgres import ConnectionPool, database_url
from chatbot.retrieval.direct_uploads import DirectUploads
from chatbot.retrieval.embedders import SageMakerEmbedder
from chatbot.retrieval.service import Retrieval
from chatbot.retrieval.settings import MB, RetrievalSettings
from lambdas.chat_api.auth import (
    Accounts,
    CognitoAccounts,
    CognitoTokens,
    LocalAccounts,
    LocalTokens,
    TokenVerifier,
)
from lambdas.chat_api.settings import ChatApiSettings


def build_catalog(settings: ChatApiSettings) -> ModelCatalog:
    if settings.models_table:
        return load_registry(settings.models_table, region=settings.region)
    return load_catalog(settings.models_file)


def build_store(settings: ChatApiSettings) -> HistoryStore:
    if settings.history_table:
        return DynamoDBHistoryStore(settings.history_table, region=settings.region)
    return PostgresHistoryStore(ConnectionPool(database_url(settings=settings.database), max_connections=16))


def build_retrieval(settings: ChatApiSettings, catalog: ModelCatalog, client: Any) -> Retrieval | None:
    """Documents and search, unless turned off. The embedder is the stack's embeddings endpoint
    (EMBEDDING_MODEL_SPEC, or the registry's model with task: embedding), else the local MiniLM."""
    if not settings.documents:
        return None
    if settings.embedding_model_spec:
        spec = ModelSpec.model_validate_json(settings.embedding_model_spec)
    else:
        spec = next((spec for spec in catalog if spec.task == "embedding"), None)
    embedder = SageMakerEmbedder(spec, client) if spec else None
    limits = RetrievalSettings(max_document_bytes=int(settings.max_document_mb * MB))
    database = settings.database
    # In AWS the deploy migrates and a cold start never connects: a paused Aurora cluster is
    # woken by the first request that needs it, which waits out the resume (wake_wait).
    return Retrieval.open(
        database_url(settings=database),
        embedder=embedder,
        settings=limits,
        migrate_now=database.migrate_at_startup(),
        wake_wait_s=database.wake_wait(),
    )


def build_direct_uploads(settings: ChatApiSettings) -> DirectUploads | None:
    """Presigned uploads to the documents bucket, where there is one and documents are on."""
    if not (settings.documents and settings.documents_bucket):
        return None
    # Signature version 4: the bucket encrypts with KMS, which refuses uploads signed otherwise.
    s3 = boto3.client(
        "s3",
        region_name=settings.region,
        endpoint_url=settings.s3_endpoint_url,
        config=Config(signature_version="s3v4"),
    )
    return DirectUploads(s3, settings.documents_bucket, int(settings.max_direct_upload_mb * MB))


def build_services(settings: ChatApiSettings) -> tuple[ChatService, Retrieval | None]:
    """The chat service and, unless turned off, document retrieval, sharing one catalog and client."""
    catalog = build_catalog(settings)
    client = sagemaker_runtime_client(endpoint_url=settings.sagemaker_endpoint_url, region=settings.region)
    clients = RuntimeClients(
        sagemaker=client,
        bedrock=bedrock_runtime_client(endpoint_url=settings.bedrock_url, region=settings.region),
    )
    retrieval = build_retrieval(settings, catalog, client)
    service = ChatService(
        catalog,
        clients.endpoint,
        build_store(settings),
        retriever=retrieval.retriever if retrieval else None,
        limits=ServiceLimits(max_message_chars=settings.max_message_chars),
        vote_rules=VoteRules(max_votes_per_pair_per_day=settings.max_votes_per_pair_per_day),
        # The local model server runs on this machine: its models cost nothing per token.
        hosting="local" if settings.sagemaker_endpoint_url else "aws",
    )
    return service, retrieval


def build_verifier(settings: ChatApiSettings) -> TokenVerifier:
    if settings.auth == "cognito":
        return CognitoTokens(settings.region, settings.cognito_user_pool_id, settings.cognito_client_id)
    return LocalTokens(local_secret(settings.secret_file))


def build_accounts(settings: ChatApiSettings) -> Accounts:
    """Where a caller's account is checked on every request: the user pool, or the users file."""
    if settings.auth == "cognito":
        client = boto3.client("cognito-idp", region_name=settings.region)
        return CognitoAccounts(client, settings.cognito_user_pool_id or "")
    return LocalAccounts(settings.users_file or settings.database.folder() / "users.yaml")


def build_stream_leases(settings: ChatApiSettings) -> StreamLeases:
    """The per-user cap on concurrent streams, kept where the history is (every instance sees it)."""
    cap = settings.max_streams_per_user
    if cap == 0:
        return UnlimitedStreams()
    if settings.history_table:
        return DynamoDBStreamLeases(settings.history_table, cap, region=settings.region)
    # A small pool of its own: a lease is one short statement at a stream's start and end.
    return PostgresStreamLeases(
        ConnectionPool(database_url(settings=settings.database), max_connections=4), cap
    )
