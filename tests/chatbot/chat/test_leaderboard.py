"""The leaderboard: which votes count, ratings raw and length-controlled with intervals, votes to
separate neighbours, and quality against cost and speed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatbot.api.records import AnswerFigures, Vote
from chatbot.chat.costs import ModelCost
from chatbot.chat.leaderboard import (
    PROVISIONAL_UNDER_VOTES,
    build_leaderboard,
    elo_ratings,
    outcomes,
    with_retired,
)
from chatbot.chat.ratings import votes_to_separate
from chatbot.chat.vote_rules import VoteRules, leaked_identity

DAY = datetime(2026, 11, 2, 9, tzinfo=UTC)
_sessions = iter(range(1_000_000))


def vote(
    choice: str,
    models: list[str],
    best_lane: str | None = None,
    *,
    chars: list[int] | None = None,
    user: str = "u",
    at: datetime = DAY,
    void_reason: str | None = None,
) -> Vote:
    figures = [AnswerFigures(chars=c, ttft_ms=100.0 + c, tokens_per_s=c / 10) for c in chars or []]
    return Vote(
        session_id=f"s{next(_sessions)}",
        round=1,
        user_id=user,
        choice=choice,
        models=models,
        anonymous=True,
        best_lane=best_lane,
        answers=figures,
        created_at=at,
        void_reason=void_reason,
    )


def spread(votes: list[Vote]) -> list[Vote]:
    """The same votes by different users, so no daily limit applies."""
    return [v.model_copy(update={"user_id": f"user-{i}"}) for i, v in enumerate(votes)]


def test_votes_become_pairwise_outcomes():
    assert outcomes(vote("left", ["a", "b"])) == [("a", "b", 1.0)]
    assert outcomes(vote("right", ["a", "b"])) == [("b", "a", 1.0)]
    assert outcomes(vote("both_bad", ["a", "b"])) == [("a", "b", 0.5)]
    assert outcomes(vote("best", ["a", "b", "c"], best_lane="c")) == [("c", "a", 1.0), ("c", "b", 1.0)]
    assert outcomes(vote("all_bad", ["a", "b", "c"])) == [("a", "b", 0.5), ("a", "c", 0.5), ("b", "c", 0.5)]


def test_a_best_vote_names_the_model_of_the_lane_it_names():
    named = vote("best", ["x", "y", "z"], best_lane="q").model_copy(update={"lanes": ["p", "q", "r"]})
    assert named.best_model == "y"
    assert outcomes(named) == [("y", "x", 1.0), ("y", "z", 1.0)]


def test_online_elo_moves_k_times_the_surprise():
    ratings = elo_ratings([("a", "b", 1.0)])
    assert ratings == {"a": pytest.approx(1002.0), "b": pytest.approx(998.0)}


def test_the_stronger_model_ranks_first_with_an_interval_around_its_rating():
    votes = spread([vote("left", ["strong", "weak"])] * 30 + [vote("right", ["strong", "weak"])] * 10)
    board = build_leaderboard(votes)
    strong, weak = board.ratings
    assert (strong.model, weak.model) == ("strong", "weak")
    assert strong.bradley_terry > weak.bradley_terry
    assert strong.bt_lower <= strong.bradley_terry <= strong.bt_upper
    assert strong.sc_lower <= strong.style_controlled <= strong.sc_upper
    assert (strong.wins, strong.losses, strong.votes) == (30, 10, 40)
    (pair,) = board.pairs
    assert (pair.model_a, pair.a_wins, pair.b_wins, pair.ties) == ("strong", 30, 10, 0)
    assert pair.a_win_rate == 0.75


def test_an_undefeated_model_still_gets_a_finite_rating():
    board = build_leaderboard(spread([vote("left", ["a", "b"])] * 5))
    assert all(abs(rating.bradley_terry) < 5000 for rating in board.ratings)


def test_one_vote_leaves_a_wide_interval_and_more_votes_narrow_it():
    # A bootstrap of one vote resamples that vote every time; the interval must not shrink to a
    # point as if a single vote settled the ratings.
    def widths(count: int) -> list[float]:
        board = build_leaderboard(spread([vote("left", ["a", "b"])] * count))
        return [rating.bt_upper - rating.bt_lower for rating in board.ratings]

    one, many = widths(1), widths(100)
    assert min(one) > 300, "one vote says little: the prior's spread (about +-200 points) remains"
    assert max(many) < min(one)


def test_no_votes_no_ratings():
    assert build_leaderboard([]).ratings == []


def test_length_control_takes_out_what_longer_answers_won():
    # Equally good models; the longer answer wins three times in four, and "verbose" writes the
    # longer answer in four battles of five.
    votes = []
    for index in range(200):
        verbose_longer = index % 5 != 0
        chars = [900, 300] if verbose_longer else [300, 900]
        longer_wins = index % 4 != 0
        verbose_wins = longer_wins == verbose_longer
        votes.append(vote("left" if verbose_wins else "right", ["verbose", "terse"], chars=chars))
    board = build_leaderboard(spread(votes))
    by_model = {rating.model: rating for rating in board.ratings}
    raw_gap = by_model["verbose"].bradley_terry - by_model["terse"].bradley_terry
    controlled_gap = by_model["verbose"].style_controlled - by_model["terse"].style_controlled
    assert raw_gap > 60, "raw ratings reward the longer writer"
    assert abs(controlled_gap) < raw_gap / 3, "length control takes most of that out"
    assert board.length_effect is not None
    assert board.length_effect > 100


def test_an_identity_leak_and_votes_over_the_daily_limit_are_voided_and_counted_by_reason():
    leak = vote(
        "left", ["a", "b"], void_reason="identity_leak: the answer of Model A names its own model ('a')"
    )
    eager = [vote("left", ["a", "b"], user="eager", at=DAY + timedelta(minutes=i)) for i in range(5)]
    next_day = vote("left", ["b", "a"], user="eager", at=DAY + timedelta(days=1))
    board = build_leaderboard([leak, *eager, next_day], rules=VoteRules(max_votes_per_pair_per_day=3))
    assert board.voided == {"identity_leak": 1, "over_daily_limit": 2}
    assert board.votes == 4, "three of eager's five that day, and the next day's"


def test_an_answer_that_names_its_own_model_is_an_identity_leak():
    assert leaked_identity("Hi! I am SmolLM, a small model.", "smollm2-135m") == "smollm"
    assert leaked_identity("I'm Gemma.", "gemma3-270m", "google/gemma-3-270m") == "gemma"
    assert leaked_identity("I am a helpful assistant.", "smollm2-135m") is None


def test_votes_to_separate_grow_until_the_intervals_part():
    assert votes_to_separate(100, (30, 30), (50, 50)) == 0, "already apart"
    assert votes_to_separate(0, (30, 30), (50, 50)) is None, "equal ratings never part"
    needed = votes_to_separate(40, (30, 30), (50, 50))
    assert needed is not None
    assert needed > 0

    def width(extra: int) -> float:
        return 2 * 30 * (50 / (50 + extra)) ** 0.5

    assert width(needed) < 40 <= width(needed - 1)


def test_neighbours_in_the_ranking_say_how_many_votes_would_separate_them():
    votes = spread([vote("left", ["a", "b"])] * 6 + [vote("right", ["a", "b"])] * 4)
    (separation,) = build_leaderboard(votes).separation
    assert (separation.higher, separation.lower) == ("a", "b")
    assert separation.votes_to_separate is not None
    assert separation.votes_to_separate > 0


def cost_table(prices: dict[str, float]):
    def cost_of(model: str, tokens_per_s: float | None) -> ModelCost:
        return ModelCost(usd_per_1k_output_tokens=prices[model], basis="bedrock", note="test prices")

    return cost_of


def test_quality_cost_and_speed_mark_the_pareto_fronts_and_the_cheapest_near_the_top():
    votes = spread(
        [vote("left", ["best", "close"], chars=[500, 400])] * 11
        + [vote("right", ["best", "close"], chars=[500, 400])] * 9
        + [vote("left", ["best", "worst"], chars=[500, 100])] * 20
        + [vote("left", ["close", "worst"], chars=[400, 100])] * 20
    )
    board = build_leaderboard(votes, cost_of=cost_table({"best": 0.01, "close": 0.002, "worst": 0.05}))
    by_model = {rating.model: rating for rating in board.ratings}
    assert [rating.model for rating in board.ratings] == ["best", "close", "worst"]
    assert {m for m, r in by_model.items() if r.pareto_cost} == {"best", "close"}
    assert board.cheapest_near_top == "close"
    assert by_model["best"].median_ttft_ms == pytest.approx(600.0, rel=0.01)  # kept to 1%
    assert by_model["best"].median_tokens_per_s == pytest.approx(50.0, rel=0.01)
    assert {m for m, r in by_model.items() if r.pareto_speed} == {"best"}


def test_a_model_with_few_votes_is_provisional_and_one_out_of_the_catalog_retired():
    votes = spread([vote("left", ["many", "few"]) for _ in range(PROVISIONAL_UNDER_VOTES)])
    votes += spread([vote("left", ["many", "other"]) for _ in range(PROVISIONAL_UNDER_VOTES)])
    board = build_leaderboard(votes)
    labels = {r.model: (r.votes, r.provisional, r.retired) for r in board.ratings}
    assert labels["many"] == (2 * PROVISIONAL_UNDER_VOTES, False, False)
    assert labels["few"] == (PROVISIONAL_UNDER_VOTES, False, False), "at the threshold: no longer"
    fewer = build_leaderboard(votes[1:])
    assert {r.model: r.provisional for r in fewer.ratings}["few"]
    served = with_retired(board, ["many", "other"])
    assert {r.model for r in served.ratings if r.retired} == {"few"}
    assert not hasattr(served.ratings[0], "elo"), "it only repeated the Bradley-Terry rating"
