"""Reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009).

Each list votes 1 / (k + rank) for each item it holds; an item's fused score is the sum.
Ranks, not raw scores, are fused: cosine similarities and ts_rank_cd values live on
scales that cannot be compared, and ranks need no tuning per corpus.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

#: Whatever identifies an item (a chunk id): the fused scores are keyed the same way.
Item = TypeVar("Item", bound=Hashable)


def reciprocal_rank_fusion(rankings: Iterable[Mapping[Item, int]], *, k: int = 60) -> dict[Item, float]:
    """Fused scores from several rankings, each a mapping item -> 1-based rank.
    An item missing from a ranking gets no vote from it. Items appear once (de-duplicated)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    scores: dict[Item, float] = {}
    for ranking in rankings:
        for item, rank in ranking.items():
            if rank < 1:
                raise ValueError(f"ranks start at 1; got {rank} for {item!r}")
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores
