"""The deploy's one-shot database migration: the Pulumi program invokes it once per deploy
(infra/migration.py), with the database's master secret, so that no function migrates at a cold
start (they run with `DB_MIGRATIONS=deploy`, the default in AWS).

It waits up to MIGRATION_WAKE_WAIT_S for a paused Aurora cluster to resume, then creates or
upgrades the schema and pins the embeddings model, as a local process does when it opens the
database. Same code and layer as the indexer, another handler."""

from __future__ import annotations

import logging
from typing import Any

from chatbot.retrieval.service import Retrieval
from lambdas.document_indexer.settings import IndexerSettings

#: A cluster resuming after a long pause takes about 30 s; a fresh one may still be starting.
MIGRATION_WAKE_WAIT_S = 300.0

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)


def handler(event: dict[str, Any] | None = None, context: Any = None) -> dict[str, Any]:
    settings = IndexerSettings.from_env()
    database = settings.database.model_copy(
        update={"migrations": "startup", "wake_wait_s": MIGRATION_WAKE_WAIT_S}
    )
    retrieval = Retrieval.from_environment(settings.model_copy(update={"database": database}))
    retrieval.close()
    log.info("database migrated", extra={"embedding_model": retrieval.embedder.name})
    return {"migrated": True, "embedding_model": retrieval.embedder.name}
