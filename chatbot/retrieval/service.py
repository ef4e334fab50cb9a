"""Everything retrieval needs, wired once per process: store, embedder, ingestor, retriever.

retrieval = Retrieval.open()                       # DATABASE_URL or the embedded server
retrieval.ingestor.ingest(Upload(user_id="u1", filename="notes.md", data=b"..."), on_progress=print)
chunks = retrieval.retriever.search("u1", "what did I note about pgvector?", k=5)
"""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.postgres import database_url
from chatbot.retrieval.embedders import Embedder, LocalEmbedder
from chatbot.retrieval.ingestion import Ingestor
from chatbot.retrieval.reranker import Reranker
from chatbot.retrieval.search import HybridRetriever
from chatbot.retrieval.settings import RetrievalEnvironment, RetrievalSettings
from chatbot.retrieval.store import PgVectorStore


@dataclass
class Retrieval:
    store: PgVectorStore
    ingestor: Ingestor
    retriever: HybridRetriever

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        embedder: Embedder | None = None,
        reranker: Reranker | None = None,
        settings: RetrievalSettings | None = None,
        migrate_now: bool = True,
        wake_wait_s: float = 0.0,
    ) -> Retrieval:
        """`url` defaults to `chatbot.postgres.database_url()`; the embedder to the local MiniLM.
        `migrate_now` False: the deploy migrated, and nothing connects before the first query;
        `wake_wait_s`: how long a connection waits for a resuming database (chatbot.postgres)."""
        embedder = embedder or LocalEmbedder()
        settings = settings or RetrievalSettings()
        store = PgVectorStore.open(
            url or database_url(),
            embedding_model=embedder.name,
            dimension=embedder.dimension,
            migrate_now=migrate_now,
            wake_wait_s=wake_wait_s,
        )
        return cls(
            store=store,
            ingestor=Ingestor(store, embedder, settings),
            retriever=HybridRetriever(store, embedder, settings, reranker),
        )

    @classmethod
    def from_environment(cls, environment: RetrievalEnvironment | None = None) -> Retrieval:
        """Configured by the environment (`RetrievalEnvironment`), as the Lambdas and the local
        stack run it: the database, the embeddings and rerank endpoints, the document size limit."""
        from chatbot.models.clients import sagemaker_runtime_client
        from chatbot.models.spec import ModelSpec
        from chatbot.retrieval.embedders import SageMakerEmbedder
        from chatbot.retrieval.reranker import SageMakerReranker

        environment = environment or RetrievalEnvironment.from_env()
        embedding_spec, rerank_spec = environment.embedding_model_spec, environment.rerank_model_spec
        client = None
        if embedding_spec or rerank_spec:
            client = sagemaker_runtime_client(endpoint_url=environment.sagemaker_endpoint_url)
        embedder = (
            SageMakerEmbedder(ModelSpec.model_validate_json(embedding_spec), client)
            if embedding_spec
            else None
        )
        reranker = (
            SageMakerReranker(ModelSpec.model_validate_json(rerank_spec), client) if rerank_spec else None
        )
        return cls.open(
            database_url(settings=environment.database),
            embedder=embedder,
            reranker=reranker,
            settings=environment.knobs(),
            migrate_now=environment.database.migrate_at_startup(),
            wake_wait_s=environment.database.wake_wait(),
        )

    @property
    def embedder(self) -> Embedder:
        return self.ingestor.embedder

    def close(self) -> None:
        self.store.close()
