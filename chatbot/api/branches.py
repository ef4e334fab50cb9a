"""Edit and branch (issue 23): a chat is a tree of messages, stored flat in order of arrival.

(In the contract: the API picks a question's parent with these, and the web app its ‹ 1/2 ›.)

Each message follows a parent: an answer its prompt (reply_to); a question the message it was
asked after (`parent`, stored since branches exist). A message stored before then, or a question
sent without one, follows the message before it: every conversation the previous release wrote
reads as the one branch it was, with nothing rewritten. Editing a question stores a new one with
the same parent: a sibling, the first branch kept. The page shows one branch, the newest unless
the user moves to another (‹ 1/2 ›), and the model sees only the branch it answers in.

Parents come from stored data, imports included: one that does not point to an earlier message
is read as the message before it, so no file can make a loop.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatbot.api.records import Message


def parent_of(message: Message) -> int | None:
    """The seq this message follows; None for the first of a conversation."""
    if message.role == "assistant" and message.reply_to is not None and 0 < message.reply_to < message.seq:
        return message.reply_to
    if message.parent is not None and 0 <= message.parent < message.seq:
        return message.parent or None  # 0: the first of its branch (an edited first question)
    return message.seq - 1 or None


def path_to(messages: Sequence[Message], leaf: int | None) -> list[Message]:
    """The branch that ends at `leaf`, first message first (empty for None)."""
    by_seq = {message.seq: message for message in messages}
    path: list[Message] = []
    at = leaf
    while at is not None and at in by_seq:
        path.append(by_seq[at])
        at = parent_of(by_seq[at])
    return path[::-1]


def newest_leaf(messages: Sequence[Message]) -> int | None:
    return max((message.seq for message in messages), default=None)


def siblings(messages: Sequence[Message], message: Message) -> list[Message]:
    """The messages of the same role that follow the same parent, oldest first (‹ i/n ›)."""
    parent = parent_of(message)
    return sorted(
        (m for m in messages if m.role == message.role and parent_of(m) == parent), key=lambda m: m.seq
    )


def leaf_under(messages: Sequence[Message], seq: int) -> int:
    """The newest message of the branches through `seq`: where the page goes when the user
    moves to that sibling."""
    below = {seq}
    for message in sorted(messages, key=lambda m: m.seq):
        if parent_of(message) in below:
            below.add(message.seq)
    return max(below)
