"""The seam the chat service calls: a `Retriever` returns ranked `RetrievedChunk`s.

    chunks = retriever.search(user_id, "what did the caterpillar smoke?", k=5)
    context = [chunk.text for chunk in chunks]          # -> Adapter.prompt(..., context=context)
    sources = [chunk.citation for chunk in chunks]      # -> the sources event

Workspaces: each user has a private workspace ("private", visible to its owner only);
any other workspace name is shared and visible to every user who asks for it. A search covers
the private workspace unless a shared one is asked for: other people's documents enter a
prompt only when the user opted in (ChatRequest.search_shared), and then as data, naming
their uploader.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

#: A user's own documents. Every other workspace name is shared.
PRIVATE = "private"
#: The shared workspace uploads go to when they are meant for everyone.
SHARED = "shared"
#: What a search covers unless told otherwise: the user's own documents only. Shared documents
#: are other people's text, searched only when asked for.
DEFAULT_WORKSPACES: tuple[str, ...] = (PRIVATE,)
#: The user's own documents and the shared ones: what the Documents page lists, and what a
#: chat that opts into shared documents searches.
WITH_SHARED: tuple[str, ...] = (PRIVATE, SHARED)
WORKSPACE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"

#: hybrid: vector and full-text results fused; vector or text: one side alone (for comparison).
SearchMode = Literal["hybrid", "vector", "text"]


class RetrievedChunk(BaseModel):
    """One passage found for a query, with where it comes from and why it ranked."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    #: The uploaded file's name, as shown to the user.
    document_name: str
    #: Who uploaded the document: for a shared one, someone other than the reader perhaps.
    uploaded_by: str
    workspace: str
    #: Position of the chunk in its document, from 0.
    chunk_index: int = Field(ge=0)
    #: Character offset of the chunk in the document's extracted text.
    start_offset: int = Field(ge=0)
    text: str
    #: Cosine similarity to the query (1 = same direction); None if the vector search missed it.
    vector_score: float | None = None
    #: ts_rank_cd of the full-text match; None if the full-text search missed it.
    text_score: float | None = None
    #: 1-based ranks in each list (None = not in that list): what the fusion used.
    vector_rank: int | None = None
    text_rank: int | None = None
    #: Reciprocal rank fusion score: the sum of 1 / (rrf_k + rank) over both lists.
    fused_score: float
    #: The reranker's score, when a reranker is configured; results are then ordered by it.
    rerank_score: float | None = None

    @property
    def citation(self) -> str:
        """How an answer names its source: document and chunk (1-based for people)."""
        return f"{self.document_name}, chunk {self.chunk_index + 1}"


@runtime_checkable
class Retriever(Protocol):
    def search(
        self,
        user_id: str,
        query: str,
        k: int = 5,
        *,
        workspaces: Sequence[str] = DEFAULT_WORKSPACES,
        mode: SearchMode = "hybrid",
    ) -> list[RetrievedChunk]:
        """The k best chunks for `query` among the user's private documents (if "private"
        is listed) and the listed shared workspaces, best first."""
        ...
