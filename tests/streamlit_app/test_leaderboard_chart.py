from __future__ import annotations

from chatbot.api.leaderboard import Leaderboard, PairRecord, Rating, Separation
from streamlit_app.leaderboard_chart import (
    heatmap,
    ratings_table,
    separation_table,
    tradeoff_chart,
    tradeoff_points,
    win_rates,
)


def rating(model: str, elo: float, **figures) -> Rating:
    return Rating(
        model=model,
        bradley_terry=elo,
        bt_lower=elo - 50,
        bt_upper=elo + 50,
        style_controlled=elo - 5,
        sc_lower=elo - 60,
        sc_upper=elo + 40,
        votes=4,
        wins=2,
        losses=1,
        ties=1,
        **figures,
    )


BOARD = Leaderboard(
    ratings=[rating("b", 990), rating("a", 1010)],
    pairs=[PairRecord(model_a="a", model_b="b", a_wins=2, b_wins=1, ties=1)],
    votes=4,
)


def test_ratings_are_listed_best_first_with_their_interval():
    table = ratings_table(BOARD)
    assert list(table["Model"]) == ["a", "b"]
    assert table.iloc[0]["95% CI"] == "960 – 1060"


def test_the_status_says_provisional_and_retired_and_there_is_no_elo_column():
    board = Leaderboard(
        ratings=[
            rating("old", 1020, retired=True, provisional=True),
            rating("new", 1000, provisional=True),
            rating("settled", 990),
        ],
        pairs=[],
        votes=4,
    )
    table = ratings_table(board)
    assert list(table["Status"]) == ["retired, provisional", "provisional", ""]
    assert "Elo" not in table.columns


def test_win_rates_count_a_tie_as_half_a_win_both_ways():
    rates = win_rates(BOARD).set_index(["model", "opponent"])["win_rate"]
    assert rates[("a", "b")] == 2.5 / 4
    assert rates[("b", "a")] == 1.5 / 4


def test_the_heatmap_colours_cells_by_win_rate_and_labels_them():
    spec = heatmap(win_rates(BOARD)).to_dict()
    cells, labels = spec["layer"]
    assert cells["mark"]["type"] == "rect"
    assert cells["encoding"]["color"]["field"] == "win_rate"
    assert labels["encoding"]["text"]["format"] == ".0%"


PRICED = Leaderboard(
    ratings=[
        rating(
            "top",
            1050,
            usd_per_1k_output_tokens=0.01,
            cost_basis="bedrock",
            median_tokens_per_s=30.0,
            pareto_cost=True,
        ),
        rating(
            "local",
            1000,
            usd_per_1k_output_tokens=0.0,
            cost_basis="local",
            median_tokens_per_s=90.0,
            pareto_cost=True,
            pareto_speed=True,
        ),
        rating("unpriced", 950),
    ],
    pairs=[],
    votes=4,
    separation=[
        Separation(higher="top", lower="local", votes_to_separate=120),
        Separation(higher="local", lower="unpriced", votes_to_separate=None),
    ],
)


def test_the_table_shows_length_controlled_ratings_speed_and_cost_with_local_labelled():
    table = ratings_table(PRICED).set_index("Model")
    assert table.loc["top", "LC 95% CI"] == "990 – 1090"
    assert table.loc["top", "$ / 1k output tokens"] == "$0.0100"
    assert table.loc["local", "$ / 1k output tokens"] == "$0 (local)"
    assert table.loc["unpriced", "$ / 1k output tokens"] == "—"
    assert table.loc["local", "Tokens/s"] == 90.0


def test_models_without_a_price_are_left_off_the_cost_chart_and_the_front_is_marked():
    points = tradeoff_points(PRICED, "cost").set_index("model")
    assert list(points.index) == ["top", "local"]
    assert points["pareto"].tolist() == [True, True]
    assert points.loc["local", "label"] == "local ($0 (local))"
    speed = tradeoff_points(PRICED, "speed").set_index("model")["pareto"]
    assert speed.to_dict() == {"top": False, "local": True}


def test_the_tradeoff_chart_draws_intervals_the_front_dots_and_labels():
    layers = tradeoff_chart(tradeoff_points(PRICED, "cost"), "cost").to_dict()["layer"]
    assert [
        layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in layers
    ] == [
        "rule",
        "line",
        "point",
        "text",
    ]


def test_votes_to_separate_read_as_words():
    table = separation_table(PRICED)
    assert table["More votes to separate"].tolist() == ["120", "never (equal ratings)"]
