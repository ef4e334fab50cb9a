"""The lanes of a compare or arena session, as the API names them and the web app draws them:
which ids exist, in pane order, and what a pane is called. (The arena's policy, what it hides and
when a vote reveals it, is the service's: chatbot/chat/arena.py.)"""

from __future__ import annotations

#: The lanes of a compare or arena session, in pane order.
LANE_IDS = ("a", "b", "c", "d")
MAX_LANES = len(LANE_IDS)


def lane_label(lane_id: str) -> str:
    return f"Model {lane_id.upper()}"
