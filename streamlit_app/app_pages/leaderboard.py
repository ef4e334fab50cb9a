"""Leaderboard: ratings with 95% intervals (raw and length-controlled) from arena votes, each
model's speed and cost from the same answers, rating against cost and against speed with the
Pareto front, how many votes would separate neighbours, and who beats whom."""

import streamlit as st

from streamlit_app import context
from streamlit_app.api import ApiError
from streamlit_app.approval_view import COLUMN_HELP, approval_table, read_approvals, with_approval
from streamlit_app.formatting import as_plain_text
from streamlit_app.leaderboard_chart import (
    cost_words,
    heatmap,
    ratings_table,
    separation_table,
    tradeoff_chart,
    tradeoff_points,
    win_rates,
)

title, refresh = st.columns([5, 1], vertical_alignment="bottom")
title.header("Leaderboard")
refresh.button("Refresh", key="lb_refresh", icon=":material/refresh:", width="stretch")
st.caption(
    "Only arena votes count: in the arena nobody knows which model wrote which answer until after voting."
)

CATEGORY_WORDS = {
    "code": "Code",
    "maths": "Maths",
    "creative_writing": "Creative writing",
    "instructions": "Instructions",
    "hard": "Hard prompts",
    "general": "General",
    "unclassified": "Unclassified (older votes)",
}
category = st.session_state.get("lb_category")
try:
    board = context.api().leaderboard(category)
except ApiError as exc:
    st.error(f"The leaderboard cannot be shown right now: {exc}")
    st.stop()

st.selectbox(
    "Category",
    [None, *CATEGORY_WORDS],
    key="lb_category",
    format_func=lambda name: (
        "All prompts" if name is None else f"{CATEGORY_WORDS[name]} ({board.categories.get(name, 0)} battles)"
    ),
    help="Each prompt is classified as the vote is cast, by rules over its text: code, maths, "
    "creative writing, instructions (constraints on the answer), hard (long or many-part), general.",
)
counted, voided = st.columns(2)
counted.metric("Arena votes", board.votes)
voided.metric(
    "Votes not counted",
    sum(board.voided.values()),
    help="Identity leaks (an answer named its own model) and votes over the daily limit per user and pair.",
)
approvals = read_approvals(context.api())  # chat feedback's 👍 rates, beside the ratings (issue 23)
if not board.ratings:
    approval_table(approvals)
    st.info("No arena votes yet. Open Compare, switch Arena on, ask something and vote.")
    st.stop()

st.subheader("Ratings")
st.dataframe(
    with_approval(ratings_table(board), approvals),
    hide_index=True,
    width="stretch",
    column_config={
        **COLUMN_HELP,
        "Status": st.column_config.TextColumn(
            help=f"provisional: fewer than {board.provisional_under_votes} counted votes, the rating may still "
            "move a lot. retired: the model left the catalog, so no new votes reach it."
        ),
        "Bradley-Terry": st.column_config.NumberColumn(
            format="%.0f",
            help="Fitted on all votes at once, on the Elo scale (400 points = 10:1 odds, mean 1000). "
            "There is no online Elo column: it needs every vote in order, and the arena keeps counts "
            "(as lmarena does).",
        ),
        "95% CI": st.column_config.TextColumn(
            help="95% interval of the Bradley-Terry rating: the wider of the bootstrap's and the posterior's, so a few votes show wide."
        ),
        "Length-controlled": st.column_config.NumberColumn(
            format="%.0f",
            help="Bradley-Terry with the answers' style as covariates: length, markdown headers, list items "
            "and bold (lmarena's style control).",
        ),
        "TTFT (ms)": st.column_config.NumberColumn(format="%.0f", help="Median time to the first token."),
        "Tokens/s": st.column_config.NumberColumn(format="%.1f", help="Median decode speed of its answers."),
        "$ / 1k output tokens": st.column_config.TextColumn(
            help="Bedrock: list price. SageMaker: instance price over measured speed. Local: $0."
        ),
    },
)
if board.version is not None and board.fitted_at is not None:
    st.caption(
        f"Fit #{board.version}, {board.fitted_at:%Y-%m-%d %H:%M} UTC: one fit, shared by every server."
    )
STYLE_WORDS = {"length": "Length", "headers": "Markdown headers", "lists": "List items", "bold": "Bold"}
if board.style_effects:
    st.caption(
        "Style control: rating points for an answer with all of the style against one with none "
        "(positive: voters prefer more). The style-controlled rating takes each out."
    )
    st.dataframe(
        [
            {"Style": STYLE_WORDS.get(name, name), "Effect (points)": effect}
            for name, effect in board.style_effects.items()
        ],
        hide_index=True,
    )
elif board.length_effect is not None:
    st.caption(
        f"Length effect: {board.length_effect:+.0f} rating points for the longest possible answer against "
        "an empty one. The length-controlled rating takes it out."
    )

st.subheader("Quality, cost and speed")
top = board.ratings[0]
if board.cheapest_near_top:
    cheapest = next(r for r in board.ratings if r.model == board.cheapest_near_top)
    st.success(
        f"The cheapest model whose interval overlaps the top model's ({as_plain_text(top.model)}): "
        f"**{as_plain_text(cheapest.model)}** at {cost_words(cheapest)} per 1,000 output tokens."
    )
TRADEOFFS = (
    (
        "cost",
        "Rating against cost. Red points are the Pareto front: nothing is both better and cheaper.",
        "No model has a price yet.",
    ),
    (
        "speed",
        "Rating against speed. Red points are the Pareto front: nothing is both better and faster.",
        "No measured speeds yet.",
    ),
)
for column, (axis, caption, missing) in zip(st.columns(len(TRADEOFFS)), TRADEOFFS, strict=True):
    with column:
        st.caption(caption)
        points = tradeoff_points(board, axis)
        if points.empty:
            st.caption(missing)
        else:
            st.altair_chart(tradeoff_chart(points, axis), width="stretch")

if board.separation:
    st.subheader("Votes to separate")
    st.caption(
        "More votes between neighbours, at their current win rate, until their intervals stop overlapping."
    )
    st.dataframe(separation_table(board), hide_index=True, width="stretch")

st.subheader("Win rates")
rates = win_rates(board)
if rates.empty:
    st.caption("No pair of models has met yet.")
else:
    st.caption("How often the model on the left beat the model below (a tie counts as half a win).")
    st.altair_chart(heatmap(rates), width="stretch")
