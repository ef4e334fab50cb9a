"""Errors of document ingestion and search. Each message says what to do next.

Every `DocumentError` is raised before the store is touched, so a rejected upload leaves
the documents exactly as they were.
"""

from __future__ import annotations

from chatbot.errors import ChatbotError


class DocumentError(ChatbotError):
    """An uploaded document cannot be indexed. The upload changed nothing."""

    code = "invalid_document"
    http_status = 422


class UnsupportedFormatError(DocumentError):
    code = "unsupported_format"
    http_status = 415


class DocumentTooLargeError(DocumentError):
    code = "document_too_large"
    http_status = 413


class EmptyDocumentError(DocumentError):
    """The file has no text to index (an empty file, a scanned PDF without a text layer)."""

    code = "empty_document"
    http_status = 422


class CorruptDocumentError(DocumentError):
    code = "corrupt_document"
    http_status = 422


class EncryptedDocumentError(DocumentError):
    code = "encrypted_document"
    http_status = 422


class NotTextError(DocumentError):
    """A file named as text holds binary data, or bytes that no supported encoding decodes."""

    code = "not_text"
    http_status = 422


class DocumentConflictError(DocumentError):
    """A shared document of this name belongs to someone else: only they or an administrator
    may replace it. Raised inside the store's transaction, which then changes nothing."""

    code = "document_conflict"
    http_status = 409


class DocumentNotFoundError(ChatbotError):
    """No such document among those this user may see (we do not say which it is)."""

    code = "document_not_found"
    http_status = 404


class InvalidQueryError(ChatbotError):
    code = "invalid_query"
    http_status = 422


class EmbeddingError(ChatbotError):
    """The embedding model failed or answered something we cannot read."""

    code = "embedding_error"
    http_status = 502
