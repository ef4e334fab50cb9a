"""The arena's scheduled refit, as the chat API speaks it: the event EventBridge Scheduler sends
(the Lambda Web Adapter passes it to `POST /events`), and what the route answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

#: The categories of prompts the leaderboard ranks apart (chatbot/chat/style.py says how a
#: prompt is classified); "unclassified": votes of releases that did not classify.
Category = Literal["code", "maths", "creative_writing", "instructions", "hard", "general", "unclassified"]

#: The schedule's payload (infra/components/arena_refit.py).
REFIT_EVENT = {"source": "chatbot.arena", "action": "refit"}


class RefitEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Literal["chatbot.arena"]
    action: Literal["refit"]


class RefitResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Whether this call refitted: false while another refit holds the lease, or when the
    #: stored fit is younger than the minimum age between scheduled refits.
    refitted: bool
    #: The version of the stored fit now (None before any).
    version: int | None
