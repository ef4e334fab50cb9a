"""Builds the ChatService and the token verifier from settings: the only place that knows
whether we run locally or in AWS.

A cold start pays for every module it imports and every client it makes before its first answer
(benchmarks/cold_start.py), so the services are built by the first request that needs them
(`LazyState`, `register_services`), and each builder imports what it needs: GET /models makes
the catalog only, not the history store, the model clients or retrieval."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.datastructures import State

from chatbot.api.local_tokens import local_secret
from chatbot.retrieval.settings import MB
from lambdas.chat_api.auth import (
    Accounts,
    CognitoAccounts,
    CognitoTokens,
    LocalAccounts,
    LocalTokens,
    TokenVerifier,
)
from lambdas.chat_api.settings import ChatApiSettings

if TYPE_CHECKING:
    from chatbot.api.quotas import AuditEntry
    from chatbot.chat.attachments import Attachments
    from chatbot.chat.chat_store import ChatStore
    from chatbot.chat.service import ChatService
    from chatbot.models.catalog import ModelCatalog
    from chatbot.models.clients import RuntimeClients
    from chatbot.policy.model_access import ModelAccess
    from chatbot.policy.quotas import QuotaStore
    from chatbot.policy.stream_leases import StreamLeases
    from chatbot.retrieval.direct_uploads import DirectUploads
    from chatbot.retrieval.service import Retrieval


class LazyState(State):
    """The app's state, where a value may be registered with how to build it (`lazy`): the first
    read builds it, once (other readers wait for it). A build that fails is tried again by the
    next read, so a request meets the error (e.g. the database is waking up: 503) instead of the
    start-up."""

    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "_builders", {})
        # Reentrant: a service's builder reads the values it is built from.
        object.__setattr__(self, "_lock", threading.RLock())

    def lazy(self, name: str, build: Callable[[], Any]) -> None:
        self._builders[name] = build

    def built(self, name: str) -> bool:
        return name in self._state

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name not in self._builders:
                raise
        with self._lock:
            if name not in self._state:
                self._state[name] = self._builders[name]()
            return self._state[name]


def register_services(state: LazyState, settings: ChatApiSettings) -> None:
    """What the routes use, each built on first use: `accounts`, `catalog`, `clients`, `retrieval`
    (None where documents are off), `service`, `direct_uploads`, `stream_leases`, `quotas`,
    `model_access` (which models and presets each role may use; its changes audited with the quotas')."""
    state.lazy("accounts", lambda: build_accounts(settings))
    state.lazy("catalog", lambda: build_catalog(settings))
    state.lazy("clients", lambda: build_clients(settings))
    state.lazy("retrieval", lambda: build_retrieval(settings, state.catalog, state.clients.sagemaker))
    state.lazy("service", lambda: build_service(settings, state.catalog, state.clients, state.retrieval))
    state.lazy("direct_uploads", lambda: build_direct_uploads(settings))
    state.lazy("stream_leases", lambda: build_stream_leases(settings))
    state.lazy("quotas", lambda: build_quotas(settings))
    state.lazy(
        "model_access", lambda: build_model_access(settings, state.catalog, lambda e: state.quotas.record(e))
    )


def max_document_bytes(settings: ChatApiSettings) -> int | None:
    """The largest document accepted for upload; None where documents are off."""
    return int(settings.max_document_mb * MB) if settings.documents else None


def build_catalog(settings: ChatApiSettings) -> ModelCatalog:
    if settings.models_table:
        from chatbot.models.registry import load_registry

        return load_registry(settings.models_table, region=settings.region)
    from chatbot.models.catalog import load_catalog

    return load_catalog(settings.models_file)


def build_clients(settings: ChatApiSettings) -> RuntimeClients:
    """The model runtimes' clients: SageMaker's (also the embeddings endpoint's) and Bedrock's."""
    from chatbot.models.clients import RuntimeClients, bedrock_runtime_client, sagemaker_runtime_client

    return RuntimeClients(
        sagemaker=sagemaker_runtime_client(
            endpoint_url=settings.sagemaker_endpoint_url, region=settings.region
        ),
        bedrock=bedrock_runtime_client(endpoint_url=settings.bedrock_url, region=settings.region),
        # The local model server has no cold starts of its own: scale-to-zero models get a stand-in's.
        cold_start_s=settings.local_warm_up_s if settings.sagemaker_endpoint_url else None,
    )


def build_store(settings: ChatApiSettings) -> ChatStore:
    if settings.history_table:
        from chatbot.chat.dynamodb_store import DynamoDBHistoryStore

        return DynamoDBHistoryStore(settings.history_table, region=settings.region)
    from chatbot.chat.postgres_store import PostgresHistoryStore
    from chatbot.postgres import ConnectionPool, database_url

    return PostgresHistoryStore(ConnectionPool(database_url(settings=settings.database), max_connections=16))


def build_retrieval(settings: ChatApiSettings, catalog: ModelCatalog, client: Any) -> Retrieval | None:
    """Documents and search, unless turned off. The embedder is the stack's embeddings endpoint
    (EMBEDDING_MODEL_SPEC, or the registry's model with task: embedding), else the local MiniLM."""
    if not settings.documents:
        return None
    from chatbot.models.spec import ModelSpec
    from chatbot.postgres import database_url
    from chatbot.retrieval.embedders import SageMakerEmbedder
    from chatbot.retrieval.service import Retrieval
    from chatbot.retrieval.settings import RetrievalSettings

    spec: ModelSpec | None
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


def build_attachments(settings: ChatApiSettings) -> Attachments:
    """Files attached to chat turns: in the documents bucket where there is one (under
    attachments/, which the indexer skips), else in the data directory."""
    from chatbot.chat.attachments import Attachments, LocalBlobs, S3Blobs

    max_bytes = int(settings.max_attachment_mb * MB)
    if not settings.documents_bucket:
        return Attachments(LocalBlobs(settings.database.folder() / "attachments"), max_bytes)
    import boto3

    s3 = boto3.client("s3", region_name=settings.region, endpoint_url=settings.s3_endpoint_url)
    return Attachments(S3Blobs(s3, settings.documents_bucket), max_bytes)


def build_direct_uploads(settings: ChatApiSettings) -> DirectUploads | None:
    """Presigned uploads to the documents bucket, where there is one and documents are on."""
    if not (settings.documents and settings.documents_bucket):
        return None
    import boto3
    from botocore.config import Config

    from chatbot.retrieval.direct_uploads import DirectUploads

    # Signature version 4: the bucket encrypts with KMS, which refuses uploads signed otherwise.
    s3 = boto3.client(
        "s3",
        region_name=settings.region,
        endpoint_url=settings.s3_endpoint_url,
        config=Config(signature_version="s3v4"),
    )
    return DirectUploads(s3, settings.documents_bucket, int(settings.max_direct_upload_mb * MB))


def build_service(
    settings: ChatApiSettings, catalog: ModelCatalog, clients: RuntimeClients, retrieval: Retrieval | None
) -> ChatService:
    from chatbot.chat.service import ChatService, ServiceLimits
    from chatbot.chat.vote_rules import VoteRules

    return ChatService(
        catalog,
        clients.endpoint,
        build_store(settings),
        retriever=retrieval.retriever if retrieval else None,
        attachments=build_attachments(settings),
        limits=ServiceLimits(max_message_chars=settings.max_message_chars),
        vote_rules=VoteRules(max_votes_per_pair_per_day=settings.max_votes_per_pair_per_day),
        # The local model server runs on this machine: its models cost nothing per token.
        hosting="local" if settings.sagemaker_endpoint_url else "aws",
    )


def build_services(settings: ChatApiSettings) -> tuple[ChatService, Retrieval | None]:
    """The chat service and, unless turned off, document retrieval, sharing one catalog and client,
    built now."""
    catalog = build_catalog(settings)
    clients = build_clients(settings)
    retrieval = build_retrieval(settings, catalog, clients.sagemaker)
    return build_service(settings, catalog, clients, retrieval), retrieval


def build_verifier(settings: ChatApiSettings) -> TokenVerifier:
    if settings.auth == "cognito":
        pool, client = settings.cognito_user_pool_id, settings.cognito_client_id
        if not (pool and client):  # not met: the settings refuse this (_cognito_needs_its_pool)
            raise ValueError("CHATBOT_AUTH=cognito needs COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID")
        return CognitoTokens(settings.region, pool, client)
    return LocalTokens(local_secret(settings.secret_file))


def build_accounts(settings: ChatApiSettings) -> Accounts:
    """Where a caller's account is checked on every request: the user pool, or the users file."""
    if settings.auth == "cognito":
        import boto3

        client = boto3.client("cognito-idp", region_name=settings.region)
        return CognitoAccounts(client, settings.cognito_user_pool_id or "")
    return LocalAccounts(settings.users_file or settings.database.folder() / "users.yaml")


def build_quotas(settings: ChatApiSettings) -> QuotaStore:
    """The quota ledger, kept where the history is (every instance sees it)."""
    if settings.history_table:
        from chatbot.policy.dynamodb_quotas import DynamoDBQuotaStore

        return DynamoDBQuotaStore(settings.history_table, settings.limits, region=settings.region)
    from chatbot.policy.postgres_quotas import PostgresQuotaStore
    from chatbot.postgres import ConnectionPool, database_url

    return PostgresQuotaStore(
        ConnectionPool(database_url(settings=settings.database), max_connections=4), settings.limits
    )


def build_model_access(
    settings: ChatApiSettings, catalog: ModelCatalog, audit: Callable[[AuditEntry], None]
) -> ModelAccess:
    """Which deployed models and presets each role may use, kept where the history is (every
    instance reads it, at most 30 s late), its changes recorded in the quotas' audit log."""
    from chatbot.policy.model_access import ModelAccess, ModelAccessStore

    store: ModelAccessStore
    if settings.history_table:
        from chatbot.policy.dynamodb_model_access import DynamoDBModelAccessStore

        store = DynamoDBModelAccessStore(settings.history_table, region=settings.region)
    else:
        from chatbot.policy.postgres_model_access import PostgresModelAccessStore
        from chatbot.postgres import ConnectionPool, database_url

        # A small pool of its own: the settings are read at most every 30 s.
        store = PostgresModelAccessStore(
            ConnectionPool(database_url(settings=settings.database), max_connections=2)
        )
    return ModelAccess(catalog, store, audit=audit)


def build_stream_leases(settings: ChatApiSettings) -> StreamLeases:
    """The per-user cap on concurrent streams, kept where the history is (every instance sees it)."""
    from chatbot.policy.stream_leases import UnlimitedStreams

    cap = settings.max_streams_per_user
    if cap == 0:
        return UnlimitedStreams()
    if settings.history_table:
        from chatbot.policy.dynamodb_stream_leases import DynamoDBStreamLeases

        return DynamoDBStreamLeases(settings.history_table, cap, region=settings.region)
    from chatbot.policy.postgres_stream_leases import PostgresStreamLeases
    from chatbot.postgres import ConnectionPool, database_url

    # A small pool of its own: a lease is one short statement at a stream's start and end.
    return PostgresStreamLeases(
        ConnectionPool(database_url(settings=settings.database), max_connections=4), cap
    )
