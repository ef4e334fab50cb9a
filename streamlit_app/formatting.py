"""Figures and labels in words (pure functions, so they are easy to test)."""

from __future__ import annotations

from chatbot.models.events import Metrics, Usage
from streamlit_app.live import LiveFigures

#: Said after the figures of an answer that did not end by itself.
FINISH_NOTES = {"stopped": "stopped", "error": "failed"}


def answer_figures(metrics: Metrics | None, usage: Usage | None, status: str = "complete") -> str:
    """`TTFT 0.19 s · 40.0 tokens/s · 8 tokens`, plus a note when the answer did not end by itself."""
    parts = []
    if metrics is not None and metrics.ttft_ms is not None:
        parts.append(f"TTFT {metrics.ttft_ms / 1000:.2f} s")
    if metrics is not None and metrics.tokens_per_s is not None:
        parts.append(f"{metrics.tokens_per_s:.1f} tokens/s")
    if usage is not None:
        parts.append(f"{usage.completion_tokens} tokens")
    if status in FINISH_NOTES:
        parts.append(FINISH_NOTES[status])
    return " · ".join(parts)


def live_figures(figures: LiveFigures) -> str:
    """While an answer streams: what the browser has measured so far."""
    if figures.ttft_s is None:
        return "waiting for the first token…"
    parts = [f"TTFT {figures.ttft_s:.2f} s", f"{figures.tokens} tokens"]
    if figures.tokens_per_s is not None:
        parts.insert(1, f"{figures.tokens_per_s:.1f} tokens/s")
    return " · ".join(parts)


def lane_label(lane: str) -> str:
    return f"Model {lane.upper()}"
