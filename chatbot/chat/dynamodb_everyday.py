"""The everyday chat features' part of the DynamoDB store (issue 23), mixed into
DynamoDBHistoryStore: feedback, share links, search and marks, each under item key prefixes of
its own in the history table (see each module's table)."""

from __future__ import annotations

from chatbot.chat.dynamodb_feedback import DynamoDBFeedback
from chatbot.chat.dynamodb_search import DynamoDBSearch
from chatbot.chat.dynamodb_shares import DynamoDBShares


class DynamoDBEveryday(DynamoDBFeedback, DynamoDBShares, DynamoDBSearch):
    pass
