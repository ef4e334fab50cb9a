"""What a new chat question follows (edit and branch, issue 23): the tree itself is read by
chatbot/api/branches.py, shared with the web app."""

from __future__ import annotations

from collections.abc import Sequence

from chatbot.api.branches import leaf_under, newest_leaf, parent_of, path_to, siblings
from chatbot.api.records import Message
from chatbot.errors import InvalidRequestError

__all__ = ["leaf_under", "newest_leaf", "parent_for", "parent_of", "path_to", "siblings"]


def parent_for(messages: Sequence[Message], *, edit_of: int | None, parent: int | None) -> int | None:
    """What a new question follows: the edited question's parent, the branch the page shows, or
    the newest branch. Raises InvalidRequestError (422) for a seq that is not there."""
    by_seq = {message.seq: message for message in messages}
    if edit_of is not None and parent is not None:
        raise InvalidRequestError(
            "Send edit_of (to edit a question) or parent (to continue a branch), not both."
        )
    if edit_of is not None:
        edited = by_seq.get(edit_of)
        if edited is None or edited.role != "user" or edited.lane is not None:
            raise InvalidRequestError(
                f"edit_of: this chat has no question at position {edit_of}. Pass the seq of one of its questions."
            )
        return parent_of(edited) or 0  # 0: a new first question (None would mean "the one before")
    if parent is not None:
        if parent not in by_seq:
            raise InvalidRequestError(f"parent: this chat has no message at position {parent}.")
        return parent
    return newest_leaf(messages)
