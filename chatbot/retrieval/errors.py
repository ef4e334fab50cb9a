"""Errors of document ingestion and search. Each message says what to do next.

Every `DocumentError` is raised before the store is touched, so a rejected upload leaves
the documents exactly as they were.
"""

from __future__ import annotations

from chatbot.errors import ChatbotError


class DocumentError(ChatbotError):
    """An uploaded document cannot be indexed. The upload changed nothing."""

    code = "invalid_document"


class UnsupportedFormatError(DocumentError):
    code = "unsupported_format"


class DocumentTooLargeError(DocumentError):
    code = "document_too_large"


class EmptyDocumentError(DocumentError):
    """The file has no text to index (an empty file, a scanned PDF without a text layer)."""

    code = "empty_document"


class CorruptDocumentError(DocumentError):
    code = "corrupt_document"


class EncryptedDocumentError(DocumentError):
    code = "encrypted_document"


class NotTextError(DocumentError):
    """A file named as text holds binary data, or bytes that no supported encoding decodes."""

    code = "not_text"


class DocumentNotFoundError(ChatbotError):
    """No such document among those this user may see (we do not say which it is)."""

    code = "document_not_found"


class InvalidQueryError(ChatbotError):
    code = "invalid_query"


class EmbeddingError(ChatbotError):
    """The embedding model failed or answered something we cannot read."""

    code = "embedding_error"
