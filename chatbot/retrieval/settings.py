"""Knobs for ingestion and search, with the original chatbot's values as defaults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatbot.api.env_settings import EnvSettings, env_field
from chatbot.postgres import DatabaseSettings

MB = 1024 * 1024


class RetrievalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Characters per chunk (langchain-text-splitters' RecursiveCharacterTextSplitter).
    chunk_size: int = Field(1000, ge=100, le=8000)
    #: Characters shared by neighbouring chunks, so a sentence cut at a boundary is whole in one of them.
    chunk_overlap: int = Field(200, ge=0)
    #: Uploads above this are refused before anything is read.
    max_document_bytes: int = Field(25 * MB, ge=1)
    #: Texts per call to the embedding model: big enough to keep it busy, small enough for smooth progress.
    embed_batch_size: int = Field(32, ge=1, le=512)
    #: Candidates each side (vector, full text) hands to the fusion.
    candidates: int = Field(40, ge=1, le=1000)
    #: Reciprocal rank fusion's constant: 60 in the original paper (Cormack et al., 2009).
    rrf_k: int = Field(60, ge=1)
    #: HNSW search breadth: higher finds more true neighbours and costs more time.
    ef_search: int = Field(100, ge=1, le=1000)
    #: Full-text matches ranked at most: bounds the cost of queries made of very common words
    #: (which match most chunks and say little); selective queries are ranked exactly.
    text_scan_limit: int = Field(2000, ge=1)
    #: Fused candidates the reranker (when there is one) re-scores.
    rerank_candidates: int = Field(20, ge=1, le=200)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> RetrievalSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})"
            )
        return self


class RetrievalEnvironment(EnvSettings):
    """What a process that indexes or searches documents reads from its environment
    (`Retrieval.from_environment`; the Pulumi program writes the same with `to_env()`)."""

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    #: The embeddings endpoint's ModelSpec (JSON, task "embedding"); unset: the local MiniLM.
    embedding_model_spec: str | None = env_field(None, "EMBEDDING_MODEL_SPEC")
    #: A reranker endpoint's ModelSpec (JSON, task "rerank"); unset: no reranker.
    rerank_model_spec: str | None = env_field(None, "RERANK_MODEL_SPEC")
    #: Where the endpoints are (the local model server); unset: SageMaker in AWS.
    sagemaker_endpoint_url: str | None = env_field(None, "SAGEMAKER_ENDPOINT_URL")
    #: The largest document accepted, in MB.
    max_document_mb: float = env_field(25, "MAX_DOCUMENT_MB", gt=0)

    def knobs(self) -> RetrievalSettings:
        return RetrievalSettings(max_document_bytes=int(self.max_document_mb * MB))
