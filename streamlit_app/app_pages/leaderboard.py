"""Leaderboard: Elo and Bradley-Terry ratings (with 95% intervals) from arena votes, and who beats whom."""

import streamlit as st

from streamlit_app import context
from streamlit_app.api import ApiError
from streamlit_app.leaderboard_chart import heatmap, ratings_table, win_rates

title, refresh = st.columns([5, 1], vertical_alignment="bottom")
title.header("Leaderboard")
refresh.button("Refresh", key="lb_refresh", icon=":material/refresh:", width="stretch")
st.caption(
    "Only arena votes count: in the arena nobody knows which model wrote which answer until after voting."
)

try:
    board = context.api().leaderboard()
except ApiError as exc:
    st.error(f"The leaderboard cannot be shown right now: {exc}")
    st.stop()

st.metric("Arena votes", board.votes)
if not board.ratings:
    st.info("No arena votes yet. Open Compare, switch Arena on, ask something and vote.")
    st.stop()

st.subheader("Ratings")
st.dataframe(
    ratings_table(board),
    hide_index=True,
    width="stretch",
    column_config={
        "Elo": st.column_config.NumberColumn(format="%.0f", help="Online Elo, in vote order."),
        "Bradley-Terry": st.column_config.NumberColumn(
            format="%.0f", help="Fitted on all votes at once, on the Elo scale; steadier than Elo."
        ),
        "95% CI": st.column_config.TextColumn(help="Bootstrap interval of the Bradley-Terry rating."),
    },
)

st.subheader("Win rates")
rates = win_rates(board)
if rates.empty:
    st.caption("No pair of models has met yet.")
else:
    st.caption("How often the model on the left beat the model below (a tie counts as half a win).")
    st.altair_chart(heatmap(rates), width="stretch")
