"""Hybrid search: a vector query (HNSW, cosine) and a full-text query (websearch_to_tsquery,
ts_rank_cd), fused by reciprocal rank fusion, optionally reranked. Implements `Retriever`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from chatbot.api.documents import RetrievedChunk
from chatbot.retrieval.embedders import QueryEmbedder
from chatbot.retrieval.errors import InvalidQueryError
from chatbot.retrieval.fusion import reciprocal_rank_fusion
from chatbot.retrieval.reranker import Reranker
from chatbot.retrieval.retriever import DEFAULT_WORKSPACES, WORKSPACE_PATTERN, SearchMode
from chatbot.retrieval.settings import RetrievalSettings
from chatbot.retrieval.store import Candidate, PgVectorStore

#: Longer queries are cut: the embedding model reads about 256 tokens anyway.
MAX_QUERY_CHARS = 2000
MAX_K = 100


class HybridRetriever:
    def __init__(
        self,
        store: PgVectorStore,
        embedder: QueryEmbedder,
        settings: RetrievalSettings | None = None,
        reranker: Reranker | None = None,
    ):
        self.store = store
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()
        self.reranker = reranker

    def search(
        self,
        user_id: str,
        query: str,
        k: int = 5,
        *,
        workspaces: Sequence[str] = DEFAULT_WORKSPACES,
        mode: SearchMode = "hybrid",
    ) -> list[RetrievedChunk]:
        query = _checked(query, k, workspaces, mode)
        vector = self.embedder.embed_query(query) if mode != "text" else None
        candidates = self.store.candidates(
            user_id,
            workspaces,
            query_text=query,
            query_vector=vector,
            limit=max(self.settings.candidates, k),
            mode=mode,
            ef_search=max(self.settings.ef_search, k),
            text_scan_limit=max(self.settings.text_scan_limit, self.settings.candidates),
        )
        ranked = self._fused(candidates)
        if self.reranker is not None and ranked:
            ranked = self._reranked(query, ranked[: max(self.settings.rerank_candidates, k)])
        return ranked[:k]

    def _fused(self, candidates: list[Candidate]) -> list[RetrievedChunk]:
        by_id = {candidate.chunk_id: candidate for candidate in candidates}
        fused = reciprocal_rank_fusion(
            [
                {c.chunk_id: c.vector_rank for c in candidates if c.vector_rank is not None},
                {c.chunk_id: c.text_rank for c in candidates if c.text_rank is not None},
            ],
            k=self.settings.rrf_k,
        )
        # Ties (one list each, same rank) go to the vector side, then to document order.
        order = sorted(
            fused,
            key=lambda chunk_id: (
                -fused[chunk_id],
                by_id[chunk_id].vector_rank or 1_000_000,
                by_id[chunk_id].document_id,
                by_id[chunk_id].chunk_index,
            ),
        )
        return [_retrieved(by_id[chunk_id], fused[chunk_id]) for chunk_id in order]

    def _reranked(self, query: str, chunks: list[RetrievedChunk]) -> list[RetrievedChunk]:
        assert self.reranker is not None  # search() calls this only with a reranker
        scores = self.reranker.scores(query, [chunk.text for chunk in chunks])
        rescored = [
            chunk.model_copy(update={"rerank_score": score})
            for chunk, score in zip(chunks, scores, strict=True)
        ]
        return sorted(rescored, key=lambda chunk: -(chunk.rerank_score or 0.0))


def _checked(query: str, k: int, workspaces: Sequence[str], mode: str) -> str:
    query = " ".join(query.split())[:MAX_QUERY_CHARS]
    if not query:
        raise InvalidQueryError("The search query is empty. Type a few words to search for.")
    if not 1 <= k <= MAX_K:
        raise InvalidQueryError(f"k={k}: ask for between 1 and {MAX_K} results.")
    if mode not in ("hybrid", "vector", "text"):
        raise InvalidQueryError(f"mode={mode!r}: use 'hybrid', 'vector' or 'text'.")
    if isinstance(workspaces, str) or not workspaces:
        raise InvalidQueryError("workspaces: give a list of workspace names, e.g. ['private', 'shared'].")
    bad = [name for name in workspaces if not re.match(WORKSPACE_PATTERN, name)]
    if bad:
        raise InvalidQueryError(f"Invalid workspace names {bad}: use lower-case letters, digits, - and _.")
    return query


def _retrieved(candidate: Candidate, fused_score: float) -> RetrievedChunk:
    return RetrievedChunk(
        document_id=candidate.document_id,
        document_name=candidate.document_name,
        uploaded_by=candidate.uploaded_by,
        workspace=candidate.workspace,
        chunk_index=candidate.chunk_index,
        start_offset=candidate.start_offset,
        text=candidate.text,
        vector_score=candidate.vector_score,
        vector_rank=candidate.vector_rank,
        text_score=candidate.text_score,
        text_rank=candidate.text_rank,
        fused_score=fused_score,
    )
