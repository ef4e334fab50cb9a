"""Timing one answer: time to first token and decode speed, the same way everywhere."""

from __future__ import annotations

import time

from chatbot.models.events import Metrics


class ResponseTimer:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first_text_at: float | None = None

    def text_arrived(self) -> None:
        self.first_text_at = self.first_text_at or time.perf_counter()

    def metrics(self, completion_tokens: int | None) -> Metrics:
        """Tokens/s only from a token count the server gave (None: unknown, and so is the rate)."""
        ended = time.perf_counter()
        decode_s = ended - self.first_text_at if self.first_text_at else 0.0
        return Metrics(
            ttft_ms=(self.first_text_at - self.started) * 1000 if self.first_text_at else None,
            # After the first token: the decode rate, not diluted by prompt processing.
            tokens_per_s=(completion_tokens - 1) / decode_s
            if completion_tokens is not None and completion_tokens > 1 and decode_s > 0
            else None,
            total_ms=(ended - self.started) * 1000,
        )
