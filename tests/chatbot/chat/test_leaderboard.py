from __future__ import annotations

import pytest

from chatbot.chat.leaderboard import build_leaderboard, elo_ratings, outcomes
from chatbot.chat.records import Vote


def vote(choice: str, models: list[str], best_lane: str | None = None) -> Vote:
    return Vote(
        session_id="s",
        round=1,
        user_id="u",
        choice=choice,
        models=models,
        anonymous=True,
        best_lane=best_lane,
    )


def test_votes_become_pairwise_outcomes():
    assert outcomes(vote("left", ["a", "b"])) == [("a", "b", 1.0)]
    assert outcomes(vote("right", ["a", "b"])) == [("b", "a", 1.0)]
    assert outcomes(vote("both_bad", ["a", "b"])) == [("a", "b", 0.5)]
    assert outcomes(vote("best", ["a", "b", "c"], best_lane="c")) == [("c", "a", 1.0), ("c", "b", 1.0)]
    assert outcomes(vote("all_bad", ["a", "b", "c"])) == [("a", "b", 0.5), ("a", "c", 0.5), ("b", "c", 0.5)]


def test_online_elo_moves_k_times_the_surprise():
    ratings = elo_ratings([("a", "b", 1.0)])
    assert ratings == {"a": pytest.approx(1002.0), "b": pytest.approx(998.0)}


def test_the_stronger_model_ranks_first_with_an_interval_around_its_rating():
    votes = [vote("left", ["strong", "weak"])] * 30 + [vote("right", ["strong", "weak"])] * 10
    board = build_leaderboard(votes)
    strong, weak = board.ratings
    assert (strong.model, weak.model) == ("strong", "weak")
    assert strong.bradley_terry > weak.bradley_terry
    assert strong.bt_lower <= strong.bradley_terry <= strong.bt_upper
    assert (strong.wins, strong.losses, strong.votes) == (30, 10, 40)
    (pair,) = board.pairs
    assert (pair.model_a, pair.a_wins, pair.b_wins, pair.ties) == ("strong", 30, 10, 0)
    assert pair.a_win_rate == 0.75


def test_an_undefeated_model_still_gets_a_finite_rating():
    board = build_leaderboard([vote("left", ["a", "b"])] * 5)
    assert all(abs(rating.bradley_terry) < 5000 for rating in board.ratings)


def test_no_votes_no_ratings():
    assert build_leaderboard([]).ratings == []
