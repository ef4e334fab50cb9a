"""The leaderboard's figures as tables, a win-rate heatmap, and rating against cost and against
speed with the Pareto front marked (pure functions of GET /leaderboard)."""

from __future__ import annotations

from typing import Literal

import altair as alt
import pandas as pd

from chatbot.api.leaderboard import Leaderboard, Rating

#: What a tradeoff chart sets the rating against.
TradeoffAxis = Literal["cost", "speed"]

RATING_COLUMNS = [
    "Model",
    "Status",
    "Bradley-Terry",
    "95% CI",
    "Length-controlled",
    "LC 95% CI",
    "Votes",
    "Wins",
    "Losses",
    "Ties",
    "TTFT (ms)",
    "Tokens/s",
    "$ / 1k output tokens",
]


def ratings_table(board: Leaderboard) -> pd.DataFrame:
    """One row per model, best rating first."""
    rows = [
        {
            "Model": rating.model,
            "Status": status(rating),
            "Bradley-Terry": rating.bradley_terry,
            "95% CI": f"{rating.bt_lower:.0f} – {rating.bt_upper:.0f}",
            "Length-controlled": rating.style_controlled,
            "LC 95% CI": _interval(rating.sc_lower, rating.sc_upper),
            "Votes": rating.votes,
            "Wins": rating.wins,
            "Losses": rating.losses,
            "Ties": rating.ties,
            "TTFT (ms)": rating.median_ttft_ms,
            "Tokens/s": rating.median_tokens_per_s,
            "$ / 1k output tokens": cost_words(rating),
        }
        for rating in sorted(board.ratings, key=lambda r: r.bradley_terry, reverse=True)
    ]
    return pd.DataFrame(rows, columns=RATING_COLUMNS)


def status(rating: Rating) -> str:
    """`retired` (left the catalog), `provisional` (few votes yet), or empty."""
    return ", ".join(
        label for label, on in (("retired", rating.retired), ("provisional", rating.provisional)) if on
    )


def _interval(lower: float | None, upper: float | None) -> str:
    return "—" if lower is None or upper is None else f"{lower:.0f} – {upper:.0f}"


def cost_words(rating: Rating) -> str:
    """`$0.0021`, `$0 (local)`, or `—` when there is no price."""
    if rating.usd_per_1k_output_tokens is None:
        return "—"
    if rating.cost_basis == "local":
        return "$0 (local)"
    return f"${rating.usd_per_1k_output_tokens:.4f}"


def separation_table(board: Leaderboard) -> pd.DataFrame:
    """Each pair of neighbours in the ranking, and the votes that would tell them apart."""
    rows = [
        {
            "Higher": pair.higher,
            "Lower": pair.lower,
            "More votes to separate": "separated"
            if pair.votes_to_separate == 0
            else (
                "never (equal ratings)" if pair.votes_to_separate is None else f"{pair.votes_to_separate:,}"
            ),
        }
        for pair in board.separation
    ]
    return pd.DataFrame(rows, columns=["Higher", "Lower", "More votes to separate"])


def tradeoff_points(board: Leaderboard, axis: TradeoffAxis) -> pd.DataFrame:
    """One point per model with a known cost (or speed): its rating, interval and Pareto mark."""
    rows = []
    for rating in board.ratings:
        value = rating.usd_per_1k_output_tokens if axis == "cost" else rating.median_tokens_per_s
        if value is None:
            continue
        rows.append(
            {
                "model": rating.model,
                "value": value,
                "rating": rating.bradley_terry,
                "lower": rating.bt_lower,
                "upper": rating.bt_upper,
                "pareto": rating.pareto_cost if axis == "cost" else rating.pareto_speed,
                "label": f"{rating.model} ({cost_words(rating)})" if axis == "cost" else rating.model,
            }
        )
    return pd.DataFrame(rows, columns=["model", "value", "rating", "lower", "upper", "pareto", "label"])


def tradeoff_chart(points: pd.DataFrame, axis: TradeoffAxis) -> alt.LayerChart | alt.FacetChart:
    """Rating (with its 95% interval) against cost or speed; the Pareto front joined by a line."""
    title = (
        "$ per 1,000 output tokens (lower is better)"
        if axis == "cost"
        else "median tokens/s (higher is better)"
    )
    x = alt.X("value:Q", title=title, scale=alt.Scale(zero=True))
    base = alt.Chart(points)
    intervals = base.mark_rule(opacity=0.5).encode(
        x=x, y=alt.Y("lower:Q", title="Bradley-Terry rating", scale=alt.Scale(zero=False)), y2="upper:Q"
    )
    dots = base.mark_point(filled=True, size=120).encode(
        x=x,
        y="rating:Q",
        color=alt.Color(
            "pareto:N",
            title="Pareto front",
            scale=alt.Scale(domain=[True, False], range=["#e45756", "#8c8c8c"]),
        ),
        tooltip=["model:N", alt.Tooltip("value:Q", title=axis), "rating:Q", "lower:Q", "upper:Q"],
    )
    front = (
        alt.Chart(points[points["pareto"]].sort_values("value"))
        .mark_line(color="#e45756", strokeDash=[4, 3])
        .encode(x=x, y="rating:Q")
    )
    labels = base.mark_text(align="left", dx=8, dy=-8).encode(x=x, y="rating:Q", text="label:N")
    return alt.layer(intervals, front, dots, labels)


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


def heatmap(rates: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
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
