"""The leaderboard page: ratings and the win-rate heatmap from the real chat API's arena votes."""

from __future__ import annotations

from tests.streamlit_app.test_compare_page import ask, open_compare
from tests.waiting import sample


def open_leaderboard(app):
    app.switch_page("app_pages/leaderboard.py")
    return app.run()


# The module has a database of its own (see conftest.py): this runs first, before any vote.
def test_before_any_arena_vote_the_page_says_how_to_get_some(signed_in):
    app = open_leaderboard(signed_in)
    assert not app.exception
    assert app.metric[0].value == "0"
    assert any("switch Arena on" in str(info.value) for info in app.info)


def test_an_arena_vote_shows_up_as_ratings_and_win_rates(signed_in):
    app = open_compare(signed_in)
    app.toggle(key="cmp_arena").set_value(True).run()
    app = ask(app)
    app = app.button(key="cmp_vote_left_").click().run()
    app = open_leaderboard(app)
    # The chat API answers with its last fit if this vote's takes long (a busy machine): Refresh.
    sample(
        lambda: app.button(key="lb_refresh").click().run(),
        every_s=0.2,
        until=lambda: app.metric[0].value == "1",
        timeout_s=30,
    )
    assert not app.exception
    table = app.dataframe[0].value
    assert len(set(table["Model"])) == 2
    assert set(table["Model"]) <= {"smollm2-135m", "gemma3-270m", "smollm2-135m-bedrock"}
    assert table.iloc[0]["Wins"] == 1
    assert table.iloc[1]["Losses"] == 1
    assert table.iloc[0]["Bradley-Terry"] > table.iloc[1]["Bradley-Terry"]
    assert "Elo" not in table.columns, "it only repeated the Bradley-Terry rating"
    assert set(table["Status"]) == {"provisional"}, "one vote each"
    assert any("beat" in str(caption.value) for caption in app.caption)
    assert "$0 (local)" in set(table["$ / 1k output tokens"])
    assert any("cheapest model whose interval overlaps" in str(box.value) for box in app.success)
    # Rating against cost, rating against speed (both with the Pareto front), and the win rates.
    assert len(app.get("vega_lite_chart")) == 3


def test_compare_votes_do_not_count_on_the_leaderboard(signed_in):
    before = open_leaderboard(signed_in).metric[0].value
    app = ask(open_compare(signed_in))
    app = app.button(key="cmp_vote_left_").click().run()
    assert open_leaderboard(app).metric[0].value == before
