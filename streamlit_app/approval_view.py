"""The leaderboard's approval columns (issue 23): each model's share of 👍 from chat feedback,
with its 95% Wilson interval, set beside the arena ratings (or on its own before any vote)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from chatbot.api.everyday import Approvals
from streamlit_app import everyday_api
from streamlit_app.api import ApiError, ChatApi

RATE, INTERVAL, THUMBS = "Approval", "Approval 95% CI", "Thumbs up / down"
COLUMN_HELP = {
    RATE: st.column_config.TextColumn(
        help="Share of thumbs up on this model's chat answers (not imported ones)."
    ),
    INTERVAL: st.column_config.TextColumn(help="95% Wilson score interval: wide while there are few thumbs."),
    THUMBS: st.column_config.TextColumn(help="Thumbs up / thumbs down."),
}


def approval_rows(approvals: Approvals) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Model": row.model,
                RATE: f"{row.rate:.0%}",
                INTERVAL: f"{row.lower:.0%} – {row.upper:.0%}",
                THUMBS: f"{row.up} / {row.down}",
            }
            for row in approvals.models
        ],
        columns=["Model", RATE, INTERVAL, THUMBS],
    )


def read_approvals(api: ChatApi) -> Approvals:
    """None counted when they cannot be read: the arena's board still shows."""
    try:
        return everyday_api.approvals(api)
    except ApiError:
        return Approvals(models=[])


def with_approval(ratings: pd.DataFrame, approvals: Approvals) -> pd.DataFrame:
    """The ratings table with the approval columns after the model's name ("—": no thumbs yet);
    models with thumbs but no arena votes get rows of their own at the end."""
    thumbs = approval_rows(approvals)
    merged = ratings.merge(thumbs, on="Model", how="left")  # keeps the ratings' order
    extra = thumbs[~thumbs["Model"].isin(ratings["Model"])]
    if not extra.empty:
        merged = pd.concat([merged, extra], ignore_index=True)
    merged[[RATE, INTERVAL, THUMBS]] = merged[[RATE, INTERVAL, THUMBS]].fillna("—")
    ordered = ["Model", RATE, INTERVAL, THUMBS, *[c for c in ratings.columns if c != "Model"]]
    return merged[ordered]


def approval_table(approvals: Approvals) -> None:
    """Before any arena vote: the thumbs alone."""
    if approvals.models:
        st.subheader("Chat feedback")
        st.dataframe(approval_rows(approvals), hide_index=True, width="stretch", column_config=COLUMN_HELP)
