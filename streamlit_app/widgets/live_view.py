"""Drawing answers while they stream: each pane's placeholder is redrawn as its lane's text grows.

The loop runs in the page script and only reads the LiveTurn's snapshots; a click anywhere
interrupts it (Streamlit reruns the page), and the next run picks the same turn up again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from streamlit_app.formatting import answer_markdown, live_figures
from streamlit_app.live import Answer, LiveTurn
from streamlit_app.transcript import Shown
from streamlit_app.widgets.messages import answer_body

#: How often panes are redrawn: often enough to look smooth, rarely enough to spare the websocket.
REDRAW_S = 0.1
CURSOR = " ▌"


@dataclass
class Pane:
    """The placeholders of one lane's growing answer."""

    text: DeltaGenerator
    figures: DeltaGenerator
    _drawn: tuple[str, str] | None = field(default=None, init=False)

    @classmethod
    def here(cls) -> Pane:
        return cls(text=st.empty(), figures=st.empty())

    def draw(self, text: str, figures: str) -> None:
        if (text, figures) == self._drawn:
            return
        # Markdown, never HTML, no image, no hidden link (see widgets/messages.py); the cursor
        # shows the answer is still coming.
        self.text.markdown(answer_markdown(text) + CURSOR)
        self.figures.caption(figures)
        self._drawn = (text, figures)

    def finish(self, answer: Answer) -> None:
        """The lane is done while others may still stream: show it as it will stay."""
        if self._drawn == ("", "done"):
            return
        with self.text.container():
            answer_body(Shown.from_answer(answer))
        self.figures.empty()
        self._drawn = ("", "done")


def follow(turn: LiveTurn, panes: dict[str | None, Pane]) -> None:
    """Redraw every pane until the whole turn has finished."""
    while True:
        finished = turn.wait(REDRAW_S)
        for lane, answer in turn.snapshot().items():
            if lane not in panes:
                continue
            if answer.finished:
                panes[lane].finish(answer)
            else:
                panes[lane].draw(answer.text, live_figures(answer.live_figures()))
        if finished:
            return
