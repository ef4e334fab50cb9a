"""The document indexer's configuration: what retrieval reads (the database, the embeddings
endpoint, the size limit) plus the bucket it indexes. The Pulumi program writes the function's
environment from this same model (`IndexerSettings(...).to_env()`)."""

from __future__ import annotations

from chatbot.api.env_settings import env_field
from chatbot.retrieval.settings import RetrievalEnvironment


class IndexerSettings(RetrievalEnvironment):
    #: The documents bucket whose notifications arrive here (for logs and checks).
    documents_bucket: str | None = env_field(None, "DOCUMENTS_BUCKET")
