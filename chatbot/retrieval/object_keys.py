"""Where a document lives in the documents bucket: its key says whose it is.

    private/<user_id>/<path>        a user's own document (visible to that user only)
    shared/<workspace>/<path>       a shared workspace's document (the uploader rides in the
                                    object's `uploaded-by` metadata)

The indexer reads owners from keys (`owner_of`); the chat API writes keys for uploads sent
straight to the bucket (`object_key`). Both sides use this one layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatbot.retrieval.retriever import PRIVATE, WORKSPACE_PATTERN

LAYOUT = "private/<user_id>/<path> or shared/<workspace>/<path>"
PRIVATE_FOLDER = "private"
SHARED_FOLDER = "shared"
#: The folders at the top of the bucket that hold documents.
TOP_FOLDERS = (PRIVATE_FOLDER, SHARED_FOLDER)
#: Files attached to chat turns (chatbot/chat/attachments.py): not documents, so outside the
#: layout, and the indexer skips them.
ATTACHMENTS_FOLDER = "attachments"


@dataclass(frozen=True)
class Owner:
    workspace: str
    #: The uploader of a private document; empty for a shared one (one copy per workspace).
    user_id: str
    #: The key's path inside the user's or workspace's folder: what re-uploads replace.
    source: str


class KeyLayoutError(ValueError):
    """A key outside the layout: not a document of ours."""


def owner_of(key: str) -> Owner:
    parts = key.split("/")
    if len(parts) < 3 or not parts[1] or not all(parts[2:]):
        raise KeyLayoutError(f"{key!r} is not {LAYOUT}")
    top, middle, source = parts[0], parts[1], "/".join(parts[2:])
    if top == PRIVATE_FOLDER:
        return Owner(PRIVATE, middle, source)
    if top == SHARED_FOLDER and middle != PRIVATE and re.match(WORKSPACE_PATTERN, middle):
        return Owner(middle, "", source)
    raise KeyLayoutError(f"{key!r} is not {LAYOUT}")


def object_key(workspace: str, user_id: str, path: str) -> str:
    """The key of `path` uploaded by `user_id` into `workspace`; it reads back as that owner."""
    folder = f"{PRIVATE_FOLDER}/{user_id}" if workspace == PRIVATE else f"{SHARED_FOLDER}/{workspace}"
    key = f"{folder}/{path}"
    expected = Owner(workspace, user_id if workspace == PRIVATE else "", path)
    if owner_of(key) != expected:  # a '/' in the user id, say: the key would name someone else
        raise KeyLayoutError(f"{key!r} would not read back as {workspace}/{user_id}/{path}")
    return key
