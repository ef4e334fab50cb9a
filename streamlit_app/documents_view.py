"""Labels and tables of the Documents page (pure functions, so they are easy to test)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from chatbot.api.documents import RetrievedChunk

STAGES = {"extracting": "reading the text", "embedding": "embedding", "storing": "saving", "done": "done"}


def human_size(size_bytes: int) -> str:
    size: float = size_bytes  # in `unit`s
    for unit in ("bytes", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


#: Streamlit counts an uploader's limit in whole megabytes of 1024 * 1024 bytes.
STREAMLIT_MB = 1024 * 1024


def uploader_megabytes(limit_bytes: int) -> int | None:
    """Streamlit's per-uploader limit for `limit_bytes`: the API refuses anything above the
    exact figure, with a message that names it."""
    return max(1, math.ceil(limit_bytes / STREAMLIT_MB)) if limit_bytes else None


def progress_text(filename: str, progress: dict[str, Any]) -> str:
    stage = STAGES.get(progress.get("stage", ""), progress.get("stage", ""))
    total = progress.get("chunks_total", 0)
    done = progress.get("chunks_done", 0)
    return f"{filename}: {stage}" + (f", {done} of {total} chunks" if total else "")


def _score(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def search_table(hits: list[RetrievedChunk]) -> pd.DataFrame:
    """Ranked chunks with the three scores side by side (and each side's rank)."""
    return pd.DataFrame(
        [
            {
                "Rank": rank,
                "Document": hit.document_name,
                "Chunk": hit.chunk_index + 1,
                "Vector score": _score(hit.vector_score),
                "Vector rank": hit.vector_rank,
                "Text score": _score(hit.text_score),
                "Text rank": hit.text_rank,
                "Fused score": _score(hit.fused_score),
                "Text": hit.text[:300],
            }
            for rank, hit in enumerate(hits, 1)
        ]
    )
