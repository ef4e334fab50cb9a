"""Retrieval figures: ingestion throughput, hybrid search latency and HNSW recall at 100k chunks,
and ranking quality of hybrid against vector-only search. Prints one JSON line.

- ingest_chunks_per_s: the real text shipped with the tests (chapters I-IV of Alice's
  Adventures in Wonderland, several copies) through extract, split, embed and insert;
- embed_only_chunks_per_s: the embedding model alone on the same chunks; ingest_ratio is the
  first over the second (target >= 0.8: everything but the model costs little). Runs of the
  two alternate; medians.
- search_p50_ms / search_p95_ms: `HybridRetriever.search` (vector CTE + full-text CTE in one
  round trip, then RRF) over `--chunks` synthetic chunks: clustered 384-dim unit vectors (real
  sentence embeddings cluster too) and text sampled from the book's word frequencies. The
  query vector is given, not computed: the synthetic vectors have no text behind them.
  query_embed_p50_ms reports the real model's cost per query separately.
- recall_at_10: HNSW (ef_search as configured) against exact search (numpy) on the same data.
- mrr_hybrid / mrr_vector_only: mean reciprocal rank of the answer chunk over the labelled
  queries in tests/chatbot/retrieval/data/alice_queries.json.

The data lives in a temporary embedded PostgreSQL, deleted at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import struct
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatbot.postgres import create_database, temporary_server  # noqa: E402
from chatbot.retrieval.chunking import split_text  # noqa: E402
from chatbot.retrieval.embedders import LocalEmbedder  # noqa: E402
from chatbot.retrieval.models import Upload  # noqa: E402
from chatbot.retrieval.retriever import SearchMode  # noqa: E402
from chatbot.retrieval.schema import MIGRATIONS  # noqa: E402
from chatbot.retrieval.service import Retrieval  # noqa: E402
from chatbot.retrieval.settings import RetrievalSettings  # noqa: E402

DATA = ROOT / "tests" / "chatbot" / "retrieval" / "data"
ALICE = DATA / "alice_chapters_1_4.txt"
DIMENSION = 384


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# -- ingestion -------------------------------------------------------------------------------


def ingestion_figures(retrieval: Retrieval, copies: int, runs: int) -> dict[str, float]:
    text = ALICE.read_bytes()
    settings = retrieval.ingestor.settings
    chunks = split_text(text.decode(), chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)
    texts = [chunk.text for chunk in chunks] * copies
    retrieval.embedder.embed_documents(texts[:8])  # load the model outside the timings
    ingest_rates, embed_rates = [], []
    for run in range(runs):
        started = time.perf_counter()
        for copy in range(copies):
            upload = Upload(
                user_id="bench", filename=f"alice-{copy}.txt", data=text, source=f"run{run}/{copy}"
            )
            retrieval.ingestor.ingest(upload)
        ingest_rates.append(len(texts) / (time.perf_counter() - started))
        started = time.perf_counter()
        for start in range(0, len(texts), settings.embed_batch_size):  # the same batches as ingestion
            retrieval.embedder.embed_documents(texts[start : start + settings.embed_batch_size])
        embed_rates.append(len(texts) / (time.perf_counter() - started))
    ingest, embed = statistics.median(ingest_rates), statistics.median(embed_rates)
    return {
        "ingest_chunks": len(texts),
        "ingest_chunks_per_s": round(ingest, 2),
        "embed_only_chunks_per_s": round(embed, 2),
        "ingest_ratio": round(ingest / embed, 3),
    }


def ranking_figures(retrieval: Retrieval) -> dict[str, float]:
    with retrieval.store.pool.transaction() as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE documents CASCADE")
    retrieval.ingestor.ingest(Upload(user_id="reader", filename="alice.txt", data=ALICE.read_bytes()))
    queries = json.loads((DATA / "alice_queries.json").read_text())
    figures = {}
    modes: tuple[tuple[SearchMode, str], ...] = (("hybrid", "mrr_hybrid"), ("vector", "mrr_vector_only"))
    for mode, name in modes:
        reciprocal_ranks = []
        for labelled in queries:
            hits = retrieval.retriever.search("reader", labelled["query"], k=10, mode=mode)
            answer = " ".join(labelled["answer"].split())
            rank = next((n for n, hit in enumerate(hits, 1) if answer in " ".join(hit.text.split())), None)
            reciprocal_ranks.append(1 / rank if rank else 0.0)
        figures[name] = round(statistics.mean(reciprocal_ranks), 4)
    timings = []
    for labelled in queries:
        started = time.perf_counter()
        retrieval.embedder.embed_query(labelled["query"])
        timings.append((time.perf_counter() - started) * 1000)
    figures["query_embed_p50_ms"] = round(statistics.median(timings), 2)
    figures["labelled_queries"] = len(queries)
    return figures


# -- 100k synthetic chunks ------------------------------------------------------------------


def synthetic_data(count: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Clustered unit vectors, texts with the book's word frequencies, and query vectors."""
    centers = rng.standard_normal((max(count // 100, 10), DIMENSION)).astype(np.float32)

    def around_centers(n: int) -> np.ndarray:
        points = centers[rng.integers(0, len(centers), n)] + 0.7 * rng.standard_normal((n, DIMENSION))
        return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)

    words = Counter(re.findall(r"[a-z]+", ALICE.read_text().lower()))
    vocabulary = np.array(list(words))
    weights = np.array(list(words.values()), dtype=np.float64)
    sampled = rng.choice(len(vocabulary), size=(count, 120), p=weights / weights.sum())
    texts = [" ".join(vocabulary[row]) for row in sampled]
    return around_centers(count), texts, around_centers(200)


def _binary_copy(rows: list[tuple[bytes, str, str, int, int, str, np.ndarray]]) -> io.BytesIO:
    """PostgreSQL's binary COPY format: 10x faster than text for 384 floats a row."""
    out = io.BytesIO()
    out.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
    for document_id, workspace, owner, index, offset, text, vector in rows:
        fields = [
            document_id,
            workspace.encode(),
            owner.encode(),
            struct.pack(">i", index),
            struct.pack(">i", offset),
            text.encode(),
            struct.pack(">hh", DIMENSION, 0) + vector.astype(">f4").tobytes(),  # pgvector's binary form
        ]
        out.write(struct.pack(">h", len(fields)))
        for field in fields:
            out.write(struct.pack(">i", len(field)) + field)
    out.write(struct.pack(">h", -1))
    out.seek(0)
    return out


def load_synthetic(retrieval: Retrieval, vectors: np.ndarray, texts: list[str]) -> float:
    """Insert the chunks (index dropped), then build the HNSW index; return the build time."""
    index_sql = next(s for s in MIGRATIONS[0].statements if "USING hnsw" in s)
    with retrieval.store.pool.transaction() as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE documents CASCADE")
        cur.execute("DROP INDEX chunks_embedding")
        document_id = uuid.uuid4()
        cur.execute(
            """INSERT INTO documents (id, workspace, owner_id, uploaded_by, source, name, content_type,
                                      size_bytes, sha256, chunk_count)
               VALUES (%s, 'private', 'bench', 'bench', 'synthetic', 'synthetic.txt', 'text/plain', 0, '-', %s)""",
            (str(document_id), len(texts)),
        )
        for start in range(0, len(texts), 10_000):
            rows = [
                (document_id.bytes, "private", "bench", i, 0, texts[i], vectors[i])
                for i in range(start, min(start + 10_000, len(texts)))
            ]
            cur.copy_expert(
                "COPY chunks (document_id, workspace, owner_id, chunk_index, start_offset, text, embedding) "
                "FROM STDIN WITH (FORMAT binary)",
                _binary_copy(rows),
            )
    with retrieval.store.pool.connection() as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SET maintenance_work_mem = '2GB'")
            cur.execute("SET max_parallel_maintenance_workers = 1")
            started = time.perf_counter()
            cur.execute(index_sql)
            build_s = time.perf_counter() - started
            cur.execute("VACUUM ANALYZE chunks")
        conn.autocommit = False
    return build_s


class GivenQueryVector:
    """Stands in for the embedder at search time: the synthetic vectors have no text behind them."""

    name, dimension = LocalEmbedder.name, DIMENSION

    def __init__(self) -> None:
        self.vector = np.zeros(DIMENSION, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.vector


def search_figures(retrieval: Retrieval, count: int, rng: np.random.Generator) -> dict[str, float]:
    from chatbot.retrieval.search import HybridRetriever

    vectors, texts, queries = synthetic_data(count, rng)
    build_s = load_synthetic(retrieval, vectors, texts)
    given = GivenQueryVector()
    retriever = HybridRetriever(retrieval.store, given, retrieval.retriever.settings)

    # Queries: three words from a random chunk, as a user quoting a passage would.
    query_texts = [" ".join(rng.choice(texts[rng.integers(count)].split(), 3)) for _ in queries]
    latencies = []
    for warm_up in (True, False):
        for vector, text in zip(queries, query_texts, strict=True):
            given.vector = vector
            started = time.perf_counter()
            retriever.search("bench", text, k=10)
            if not warm_up:
                latencies.append((time.perf_counter() - started) * 1000)

    recalls = []
    for vector in queries:
        exact = set(np.argsort(-(vectors @ vector))[:10].tolist())
        given.vector = vector
        hits = retriever.search("bench", "unused", k=10, mode="vector")
        recalls.append(len(exact & {hit.chunk_index for hit in hits}) / 10)
    return {
        "chunks": count,
        "search_p50_ms": round(statistics.median(latencies), 2),
        "search_p95_ms": round(percentile(latencies, 0.95), 2),
        "recall_at_10": round(statistics.mean(recalls), 4),
        "hnsw_build_s": round(build_s, 1),
        "ef_search": retrieval.retriever.settings.ef_search,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="synthetic chunks for search and recall")
    parser.add_argument("--copies", type=int, default=3, help="copies of the text per ingestion run")
    parser.add_argument("--runs", type=int, default=3, help="ingestion runs (median)")
    args = parser.parse_args()

    rng = np.random.default_rng(5)
    with temporary_server() as admin_url:
        retrieval = Retrieval.open(create_database(admin_url, "bench"), settings=RetrievalSettings())
        try:
            figures = ingestion_figures(retrieval, args.copies, args.runs)
            figures |= ranking_figures(retrieval)
            figures |= search_figures(retrieval, args.chunks, rng)
        finally:
            retrieval.close()
    figures["targets_met"] = (
        figures["ingest_ratio"] >= 0.8
        and figures["search_p50_ms"] <= 20
        and figures["search_p95_ms"] <= 50
        and figures["recall_at_10"] >= 0.95
        and figures["mrr_hybrid"] >= figures["mrr_vector_only"]
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
