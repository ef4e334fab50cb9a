from __future__ import annotations

from streamlit_app.api_models import Leaderboard, PairRecord, Rating
from streamlit_app.leaderboard_chart import heatmap, ratings_table, win_rates


def rating(model: str, elo: float) -> Rating:
    return Rating(
        model=model,
        elo=elo,
        bradley_terry=elo,
        bt_lower=elo - 50,
        bt_upper=elo + 50,
        votes=4,
        wins=2,
        losses=1,
        ties=1,
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
