"""The chat API's configuration, from environment variables (the same code locally and on Lambda).

One model, read by the app (`ChatApiSettings.from_env()`) and written by the Pulumi program
(`ChatApiSettings(...).to_env()` is the function's environment): each variable is named once,
below. `ChatApiSettings.variables()` lists them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from chatbot.api.env_settings import EnvSettings, env_field
from chatbot.api.local_tokens import SECRET_FILE_NAME
from chatbot.chat.vote_rules import VoteRules
from chatbot.policy.limits import LimitsConfig
from chatbot.postgres import DatabaseSettings
from chatbot.retrieval.settings import RetrievalEnvironment

#: A function URL carries at most 6 MB per request, and Lambda base64-encodes a binary body
#: (4/3 larger) inside that: 4 MB of file plus the multipart envelope fits. Larger documents go
#: straight into the documents bucket (the indexer takes them from there, up to its own limit).
FUNCTION_URL_UPLOAD_MB = 4.0


class ChatApiSettings(EnvSettings):
    #: The model catalog file (local).
    models_file: Path = env_field(Path("models.yaml"), "CHATBOT_MODELS_FILE")
    #: The DynamoDB model registry (cloud); wins over the file.
    models_table: str | None = env_field(None, "CHATBOT_MODELS_TABLE")
    #: The DynamoDB history table (cloud); else Postgres.
    history_table: str | None = env_field(None, "CHATBOT_HISTORY_TABLE")
    #: The local model server; unset in AWS.
    sagemaker_endpoint_url: str | None = env_field(None, "SAGEMAKER_ENDPOINT_URL")
    #: The Bedrock Runtime API endpoint; unset in AWS (defaults to SAGEMAKER_ENDPOINT_URL: the
    #: local model server speaks both).
    bedrock_endpoint_url: str | None = env_field(None, "BEDROCK_ENDPOINT_URL")
    #: Locally, a model marked scale_to_zero refuses calls while "cold", as SageMaker does after an
    #: idle spell, and answers this many seconds after the first refusal (chatbot/models/cold_start.py).
    local_warm_up_s: float = env_field(60, "CHATBOT_LOCAL_WARM_UP_S", ge=0)
    #: Region of SageMaker, DynamoDB and Cognito (Lambda sets AWS_REGION itself).
    region: str = env_field("us-east-1", "AWS_REGION", "AWS_DEFAULT_REGION")
    #: `local` (HS256 tokens) or `cognito` (ID tokens).
    auth: Literal["local", "cognito"] = env_field("local", "CHATBOT_AUTH")
    #: The secret that signs local tokens (made on first use); default $CHATBOT_DATA_DIR/local-auth-secret.
    local_secret_file: Path | None = env_field(None, "CHATBOT_LOCAL_SECRET_FILE")
    #: The local users (bcrypt hashes) that administrators manage at /users; default
    #: $CHATBOT_DATA_DIR/users.yaml, the web app's own. With Cognito, the user pool holds them.
    local_users_file: Path | None = env_field(None, "CHATBOT_USERS_FILE")
    cognito_user_pool_id: str | None = env_field(None, "COGNITO_USER_POOL_ID")
    cognito_client_id: str | None = env_field(None, "COGNITO_CLIENT_ID")
    #: The longest message accepted.
    max_message_chars: int = env_field(8000, "CHATBOT_MAX_MESSAGE_CHARS", ge=1)
    #: The largest request body accepted (uploads have their own limit).
    max_body_bytes: int = env_field(256 * 1024, "CHATBOT_MAX_BODY_BYTES", ge=1)
    #: The longest wait for the next part of a request body, in seconds (then a 408).
    body_read_timeout_s: float = env_field(20, "CHATBOT_BODY_READ_TIMEOUT_S", gt=0)
    #: The longest a whole request body may take to arrive, in seconds (then a 408): a 25 MB
    #: upload at 1 Mbit/s takes 200 s.
    body_timeout_s: float = env_field(300, "CHATBOT_BODY_TIMEOUT_S", gt=0)
    #: Answers one user may have streaming at once, across every instance (each lane of a compare
    #: counts): a chat, compare or /v1 call past it gets a 429. 0 turns the cap off.
    max_streams_per_user: int = env_field(6, "CHATBOT_MAX_STREAMS_PER_USER", ge=0)
    #: Default limits per role, as JSON in `chatbot.policy.limits.LimitsConfig`'s shape, e.g.
    #: {"roles": {"user": {"tokens_per_day": 200000}}} (the stack file's `chatbot:limits`);
    #: administrators change them at runtime. Unset: unlimited until they do.
    limits_json: str | None = env_field(None, "CHATBOT_LIMITS")
    #: True lets users make share links that open without signing in (issue 23); off, every
    #: link needs a signed-in user of this deployment.
    public_share_links: bool = env_field(False, "CHATBOT_PUBLIC_SHARE_LINKS")
    #: Where MCP servers' auth secrets live in Secrets Manager (`<prefix>/<server>`), with a
    #: DynamoDB history table; locally they are kept in the Postgres store.
    mcp_secret_prefix: str = env_field("chatbot/mcp", "CHATBOT_MCP_SECRET_PREFIX")
    #: False turns document upload and search off (a stack without semantic search).
    documents: bool = env_field(True, "CHATBOT_DOCUMENTS")
    #: The largest document uploaded through the API, in MB.
    max_document_mb: float = env_field(25, "MAX_DOCUMENT_MB", gt=0)
    #: The largest file attached to a chat turn, in MB (POST /attachments): a function URL's
    #: request carries about 4 MB of file (issue 23).
    max_attachment_mb: float = env_field(FUNCTION_URL_UPLOAD_MB, "CHATBOT_MAX_ATTACHMENT_MB", gt=0)
    #: Who may add documents to a shared workspace, which other people's chats search when they
    #: opt in: `admin` (administrators only) or `everyone`. Administrators alone may replace or
    #: delete other people's shared documents either way.
    shared_document_writers: Literal["admin", "everyone"] = env_field(
        "admin", "CHATBOT_SHARED_DOCUMENT_WRITERS"
    )
    #: The documents bucket (cloud): files too large for a request go straight to it, through a
    #: presigned POST the API hands out, and its indexer indexes them. Unset: no direct uploads.
    documents_bucket: str | None = env_field(None, "DOCUMENTS_BUCKET")
    #: The largest document sent straight to the bucket, in MB: the indexer's own limit.
    max_direct_upload_mb: float = env_field(
        RetrievalEnvironment.model_fields["max_document_mb"].default, "MAX_DIRECT_UPLOAD_MB", gt=0
    )
    #: Where S3 calls go; unset in AWS (tests point it at a local S3).
    s3_endpoint_url: str | None = env_field(None, "S3_ENDPOINT_URL")
    #: The embeddings endpoint's ModelSpec as JSON (cloud); else the registry's or the local MiniLM.
    embedding_model_spec: str | None = env_field(None, "EMBEDDING_MODEL_SPEC")
    #: Arena votes of one user on one set of models that count on the leaderboard per UTC day.
    max_votes_per_pair_per_day: int = env_field(
        VoteRules().max_votes_per_pair_per_day, "CHATBOT_MAX_VOTES_PER_PAIR_PER_DAY", ge=1
    )
    #: A non-streamed /v1 answer still being generated sends a newline this often, so that
    #: CloudFront (60 s between bytes, then 504) keeps the connection: JSON may start with
    #: whitespace. Tests scale it down.
    gateway_heartbeat_s: float = env_field(15, "CHATBOT_GATEWAY_HEARTBEAT_S", gt=0)
    #: History in Postgres (no history_table) and documents: where the database is.
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)

    @model_validator(mode="after")
    def _cognito_needs_its_pool(self) -> ChatApiSettings:
        if self.auth == "cognito" and not (self.cognito_user_pool_id and self.cognito_client_id):
            raise ValueError("CHATBOT_AUTH=cognito needs COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID")
        return self

    @field_validator("limits_json")
    @classmethod
    def _limits_parse(cls, text: str | None) -> str | None:
        if text is not None:
            LimitsConfig.model_validate_json(text)  # a typo fails at start-up, naming the field
        return text

    @property
    def limits(self) -> LimitsConfig:
        return LimitsConfig.model_validate_json(self.limits_json) if self.limits_json else LimitsConfig()

    @property
    def bedrock_url(self) -> str | None:
        """Where Bedrock calls go: the local model server speaks the Bedrock Runtime API too."""
        return self.bedrock_endpoint_url or self.sagemaker_endpoint_url

    @property
    def users_file(self) -> Path | None:
        """The users file /users manages; None with Cognito (its user pool holds the users)."""
        if self.auth != "local":
            return None
        return self.local_users_file or self.database.folder() / "users.yaml"

    @property
    def secret_file(self) -> Path:
        return self.local_secret_file or self.database.folder() / SECRET_FILE_NAME
