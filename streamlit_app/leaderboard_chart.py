"""The leaderboard's figures as tables and a win-rate heatmap (pure functions of GET /leaderboard)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from streamlit_app.api_models import Leaderboard


def ratings_table(board: Leaderboard) -> pd.DataFrame:
    """One row per model, best Elo first."""
    rows = [
        {
            "Model": rating.model,
            "Elo": rating.elo,
            "Bradley-Terry": rating.bradley_terry,
            "95% CI": f"{rating.bt_lower:.0f} – {rating.bt_upper:.0f}",
            "Votes": rating.votes,
            "Wins": rating.wins,
            "Losses": rating.losses,
            "Ties": rating.ties,
        }
        for rating in sorted(board.ratings, key=lambda r: r.elo, reverse=True)
    ]
    return pd.DataFrame(
        rows, columns=["Model", "Elo", "Bradley-Terry", "95% CI", "Votes", "Wins", "Losses", "Ties"]
    )


def win_rates(board: Leaderboard) -> pd.DataFrame:
    """Each ordered pair that met: how often the row model beat the column model (a tie is half a win)."""
    rows = []
    for pair in board.pairs:
        games = pair.a_wins + pair.b_wins + pair.ties
        if not games:
            continue
        a_rate = (pair.a_wins + pair.ties / 2) / games
        rows.append({"model": pair.model_a, "opponent": pair.model_b, "win_rate": a_rate, "games": games})
        rows.append({"model": pair.model_b, "opponent": pair.model_a, "win_rate": 1 - a_rate, "games": games})
    return pd.DataFrame(rows, columns=["model", "opponent", "win_rate", "games"])


def heatmap(rates: pd.DataFrame) -> alt.LayerChart:
    """Row model's win rate against the column model; red below one half, blue above."""
    base = alt.Chart(rates).encode(
        x=alt.X("opponent:N", title="against"),
        y=alt.Y("model:N", title="model"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "win_rate:Q",
            title="win rate",
            scale=alt.Scale(domain=[0, 1], scheme="redblue"),
        ),
        tooltip=[
            alt.Tooltip("model:N"),
            alt.Tooltip("opponent:N", title="against"),
            alt.Tooltip("win_rate:Q", title="win rate", format=".0%"),
            alt.Tooltip("games:Q"),
        ],
    )
    labels = base.mark_text(fontSize=14).encode(
        text=alt.Text("win_rate:Q", format=".0%"),
        color=alt.condition("abs(datum.win_rate - 0.5) > 0.3", alt.value("white"), alt.value("black")),
    )
    return alt.layer(cells, labels)
