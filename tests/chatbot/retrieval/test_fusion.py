"""Reciprocal rank fusion: ranks vote 1/(k + rank); items found by both lists rise."""

from __future__ import annotations

import pytest

from chatbot.retrieval.fusion import reciprocal_rank_fusion


def test_each_list_votes_one_over_k_plus_rank():
    fused = reciprocal_rank_fusion([{"a": 1, "b": 2}, {"b": 1}], k=60)
    assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61})


def test_an_item_found_by_both_lists_beats_one_found_first_by_only_one():
    fused = reciprocal_rank_fusion([{"vector-only": 1, "both": 3}, {"both": 3}])
    assert fused["both"] > fused["vector-only"]


def test_items_are_de_duplicated_across_lists():
    fused = reciprocal_rank_fusion([{"x": 1}, {"x": 2}, {"x": 3}])
    assert list(fused) == ["x"]


def test_no_lists_fuse_to_nothing():
    assert reciprocal_rank_fusion([]) == {}
    assert reciprocal_rank_fusion([{}, {}]) == {}


def test_a_smaller_k_lets_the_top_ranks_weigh_more():
    steep = reciprocal_rank_fusion([{"first": 1, "tenth": 10}], k=1)
    flat = reciprocal_rank_fusion([{"first": 1, "tenth": 10}], k=1000)
    assert steep["first"] / steep["tenth"] > flat["first"] / flat["tenth"]


@pytest.mark.parametrize(("rankings", "k"), [([{"a": 0}], 60), ([{"a": 1}], 0)])
def test_ranks_start_at_one_and_k_is_positive(rankings, k):
    with pytest.raises(ValueError, match="at least 1|start at 1"):
        reciprocal_rank_fusion(rankings, k=k)
