"""Figures and labels in words (pure functions, so they are easy to test)."""

from __future__ import annotations

from chatbot.chat.answer import LiveFigures
from chatbot.models.events import Metrics, Usage

#: Said after the figures of an answer that did not end by itself.
FINISH_NOTES = {"stopped": "stopped", "error": "failed"}
#: Shown for a figure the model server did not give (never a guess labelled "tokens").
UNKNOWN = "—"


def answer_figures(metrics: Metrics | None, usage: Usage | None, status: str = "complete") -> str:
    """`TTFT 0.19 s · 40.0 tokens/s · 8 tokens`, plus a note when the answer did not end by itself."""
    parts = []
    if metrics is not None and metrics.ttft_ms is not None:
        parts.append(f"TTFT {metrics.ttft_ms / 1000:.2f} s")
    if metrics is not None:
        parts.append(f"{rate(metrics.tokens_per_s)} tokens/s")
    if usage is not None:
        parts.append(f"{count(usage.completion_tokens)} tokens")
    if status in FINISH_NOTES:
        parts.append(FINISH_NOTES[status])
    return " · ".join(parts)


def live_figures(figures: LiveFigures) -> str:
    """While an answer streams: what the browser has measured so far."""
    if figures.ttft_s is None:
        return "waiting for the first token…"
    parts = [
        f"TTFT {figures.ttft_s:.2f} s",
        f"{rate(figures.tokens_per_s)} tokens/s",
        f"{count(figures.tokens)} tokens",
    ]
    return " · ".join(parts)


def rate(tokens_per_s: float | None) -> str:
    return UNKNOWN if tokens_per_s is None else f"{tokens_per_s:.1f}"


def count(tokens: int | None) -> str:
    return UNKNOWN if tokens is None else str(tokens)
