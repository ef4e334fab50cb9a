"""Reading the model server's counters (`GET /metrics`): how tests see that decoding stopped."""

from __future__ import annotations

import threading

import httpx


def counters(model_server_url: str, model: str) -> dict[str, int]:
    return httpx.get(f"{model_server_url}/metrics").json()[model]


def after_cancel(model_server_url: str, model: str, before: dict[str, int]) -> dict[str, int]:
    """The counters once the model server has seen one more cancelled job (or after 10 s)."""
    for _ in range(100):
        now = counters(model_server_url, model)
        if now["cancelled"] == before["cancelled"] + 1:
            return now
        threading.Event().wait(0.1)
    return counters(model_server_url, model)
