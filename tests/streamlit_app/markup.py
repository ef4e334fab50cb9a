"""Markdown that Streamlit would draw as a link or an image: what untrusted text must never become."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from streamlit_app.formatting import WORD_JOINER

#: CommonMark, with GFM's tables, as Streamlit's renderer reads it (its literal autolinks apart).
_MARKDOWN = MarkdownIt("commonmark").enable("table")
#: GFM's literal autolinks (www.…, scheme://…, name@host), which CommonMark leaves as text.
_LITERAL_AUTOLINK = re.compile(r"(?i)\bwww\.|\b[a-z][a-z0-9+.-]*://|\w@\w")


def live_markup(markdown: str) -> list[str]:
    """The images, and the links whose text is not their target, that `markdown` draws."""
    found = []
    for block in _MARKDOWN.parse(markdown):
        for token in block.children or []:
            if token.type == "image":
                found.append(f"image {token.attrGet('src')}")
            elif token.type == "link_open" and token.markup != "autolink":
                found.append(f"link {token.attrGet('href')}")
    return found


def literal_autolinks(markdown: str) -> list[str]:
    """Where GFM would make a link of plain text (the link then shows its own target)."""
    return _LITERAL_AUTOLINK.findall(markdown)


def as_read(markdown: str) -> str:
    """What a reader sees of markdown that escapes its punctuation (formatting.as_plain_text):
    the escapes and the invisible word joiners gone."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")
