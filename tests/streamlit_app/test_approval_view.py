"""The leaderboard's approval columns (issue 23): chat feedback's 👍 rate and its interval beside
each model's arena ratings, "—" where a model has no thumbs yet, and rows for models with
thumbs but no arena votes."""

from __future__ import annotations

import pandas as pd

from chatbot.api.everyday import Approvals, ModelApproval
from streamlit_app.approval_view import INTERVAL, RATE, THUMBS, approval_rows, with_approval


def approvals() -> Approvals:
    return Approvals(
        models=[
            ModelApproval(model="gemma3-270m", up=3, down=1, rate=0.75, lower=0.3006, upper=0.9544),
            ModelApproval(model="chat-only", up=0, down=2, rate=0.0, lower=0.0, upper=0.6576),
        ]
    )


def test_the_approval_columns_sit_beside_the_ratings_and_keep_their_order():
    ratings = pd.DataFrame({"Model": ["smollm2-135m", "gemma3-270m"], "Elo": [1010.0, 990.0]})
    table = with_approval(ratings, approvals())
    assert list(table.columns) == ["Model", RATE, INTERVAL, THUMBS, "Elo"]
    assert list(table["Model"]) == ["smollm2-135m", "gemma3-270m", "chat-only"]
    assert table.iloc[0][[RATE, INTERVAL, THUMBS]].tolist() == ["—", "—", "—"]
    assert table.iloc[1][[RATE, INTERVAL, THUMBS]].tolist() == ["75%", "30% – 95%", "3 / 1"]
    assert pd.isna(table.iloc[2]["Elo"]), "thumbs without arena votes make no rating"


def test_before_any_thumb_the_ratings_are_unchanged_but_for_empty_columns():
    ratings = pd.DataFrame({"Model": ["a"], "Elo": [1000.0]})
    table = with_approval(ratings, Approvals(models=[]))
    assert table.iloc[0].tolist() == ["a", "—", "—", "—", 1000.0]
    assert approval_rows(Approvals(models=[])).empty
