"""Vote buttons under a finished round: A/B/tie/both bad for two panes, best one or all bad for more."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from chatbot.models.events import LaneView
from streamlit_app.compare_flow import TWO_LANE_WORDS

Vote = Callable[[str, str | None], None]

ICONS = {
    "left": ":material/arrow_back:",
    "right": ":material/arrow_forward:",
    "tie": ":material/balance:",
    "both_bad": ":material/thumb_down:",
}


def vote_buttons(lanes: list[LaneView], on_vote: Vote) -> None:
    st.markdown("**Which answer is better?**")
    choices: list[tuple[str, str, str | None, str]]  # (label, choice, best lane, icon)
    if len(lanes) == 2:
        choices = [(label, choice, None, ICONS[choice]) for choice, label in TWO_LANE_WORDS.items()]
    else:
        choices = [(f"{lane.label} is best", "best", lane.id, ":material/star:") for lane in lanes]
        choices.append(("All are bad", "all_bad", None, ":material/thumb_down:"))
    for column, (label, choice, best_lane, icon) in zip(st.columns(len(choices)), choices, strict=True):
        column.button(
            label,
            key=f"cmp_vote_{choice}_{best_lane or ''}",
            icon=icon,
            on_click=on_vote,
            args=(choice, best_lane),
            width="stretch",
        )
