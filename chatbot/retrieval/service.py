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
from chatbot.retrieval.settings import RetrievalSettings
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
    ) -> Retrieval:
        """`url` defaults to `chatbot.postgres.database_url()`; the embedder to the local MiniLM."""
        embedder = embedder or LocalEmbedder()
        settings = settings or RetrievalSettings()
        store = PgVectorStore.open(
            url or database_url(), embedding_model=embedder.name, dimension=embedder.dimension
        )
        return cls(
            store=store,
            ingestor=Ingestor(store, embedder, settings),
            retriever=HybridRetriever(store, embedder, settings, reranker),
        )

    @property
    def embedder(self) -> Embedder:
        return self.ingestor.embedder

    def close(self) -> None:
        self.store.close()
