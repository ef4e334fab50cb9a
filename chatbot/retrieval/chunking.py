"""Splitting extracted text into overlapping chunks (langchain-text-splitters)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TextChunk(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=0)
    #: Where the chunk starts in the extracted text (characters), to show it in context.
    start_offset: int = Field(ge=0)
    text: str


def split_text(
    text: str, *, chunk_size: int, chunk_overlap: int, content_type: str = "text/plain"
) -> list[TextChunk]:
    """Chunks of at most `chunk_size` characters. Splits at paragraph, then line, then word
    boundaries (at headings first for Markdown). A paragraph too long for one chunk is cut
    into pieces that share up to `chunk_overlap` characters; whole paragraphs are not repeated."""
    # Imported here: langchain-core comes with it, and the chat API's cold start has no use for it
    # (tests/lambdas/chat_api/test_cold_start.py).
    from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

    if content_type == "text/markdown":
        # Not MarkdownTextSplitter: it passes regex separators ("\n#{1,6} ") without marking them
        # as regexes, so they never match and headings end up at the end of the previous chunk.
        splitter = RecursiveCharacterTextSplitter.from_language(
            Language.MARKDOWN, chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True
        )
    else:
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True
        )
    documents = [document for document in splitter.create_documents([text]) if document.page_content.strip()]
    return [
        # start_index is -1 when the splitter cannot find the chunk again (never for plain splits).
        TextChunk(
            index=index, start_offset=max(document.metadata["start_index"], 0), text=document.page_content
        )
        for index, document in enumerate(documents)
    ]
