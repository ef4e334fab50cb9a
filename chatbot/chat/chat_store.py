"""ChatStore: everything the chat API asks of its store. Both stores implement the history
(HistoryStore) and mix in feedback, share links, and search and marks (dynamodb_everyday.py,
postgres_everyday.py); code that needs only the history takes a HistoryStore."""

from __future__ import annotations

from typing import Protocol

from chatbot.chat.feedback import FeedbackStore
from chatbot.chat.search import SearchStore
from chatbot.chat.shares import ShareStore
from chatbot.chat.store import HistoryStore


class ChatStore(HistoryStore, FeedbackStore, ShareStore, SearchStore, Protocol):
    """The history, its feedback, its share links, and its search and marks, in one store."""
