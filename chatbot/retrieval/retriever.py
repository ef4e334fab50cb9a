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

from chatbot.api.documents import RetrievedChunk

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
