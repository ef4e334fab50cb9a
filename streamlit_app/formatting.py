"""Figures and labels in words (pure functions, so they are easy to test)."""

from __future__ import annotations

import re
import string

from markdown_it import MarkdownIt

from chatbot.api.answer import LiveFigures
from chatbot.models.events import Metrics, Usage

#: Said after the figures of an answer that did not end by itself.
FINISH_NOTES = {"stopped": "stopped", "error": "failed"}
#: Shown for a figure the model server did not give (never a guess labelled "tokens").
UNKNOWN = "—"


def answer_figures(metrics: Metrics | None, usage: Usage | None, status: str = "complete") -> str:
    """`TTFT 0.19 s · 40.0 tokens/s · 8 tokens`, plus a note when the answer did not end by itself."""
    parts = []
    if metrics is not None and metrics.ttft_ms is not None:
        parts.append(f"TTFT {metrics.ttft_ms / 1000:.2f} s")
    if metrics is not None:
        parts.append(f"{rate(metrics.tokens_per_s)} tokens/s")
    if usage is not None:
        parts.append(tokens(usage.completion_tokens))
    if status in FINISH_NOTES:
        parts.append(FINISH_NOTES[status])
    return " · ".join(parts)


def live_figures(figures: LiveFigures) -> str:
    """While an answer streams: what the browser has measured so far."""
    if figures.ttft_s is None:
        return "waiting for the first token…"
    parts = [
        f"TTFT {figures.ttft_s:.2f} s",
        f"{rate(figures.tokens_per_s)} tokens/s",
        tokens(figures.tokens),
    ]
    return " · ".join(parts)


def rate(tokens_per_s: float | None) -> str:
    return UNKNOWN if tokens_per_s is None else f"{tokens_per_s:.1f}"


def count(tokens: int | None) -> str:
    return UNKNOWN if tokens is None else str(tokens)


def tokens(number: int | None) -> str:
    """`1 token`, `8 tokens`, `— tokens` (a figure the server did not give)."""
    return f"{count(number)} token{'' if number == 1 else 's'}"


# -- untrusted text ----------------------------------------------------------------------------
# Streamlit renders markdown nearly everywhere text is drawn: st.markdown, captions, alerts, toasts,
# widget labels (links and images included) and st.table cells. Text that someone other than the
# reader wrote (file names, model names, imported titles, answers) goes through one of these two.

#: The word joiner (U+2060): invisible, and it breaks the literal autolinks markdown makes of
#: `www.`, `scheme://` and `name@host` even where every punctuation mark is escaped.
WORD_JOINER = "\u2060"
_AUTOLINK_STARTS = re.compile(r"(?i)\b(www)(?=\\?\.)|\b([a-z][a-z0-9+.-]*)(?=\\?:\\?/\\?/)|(?<=\w)(\\?@)")


def as_plain_text(text: str) -> str:
    """`text` as markdown that shows exactly `text`, on one line: every ASCII punctuation mark
    escaped (no link, image, emphasis, math, HTML entity, colour or emoji syntax survives), line
    breaks as spaces (no headings or lists), and no literal autolink."""
    one_line = " ".join(text.split()) if "\n" in text or "\r" in text else text
    escaped = "".join(f"\\{char}" if char in string.punctuation else char for char in one_line)
    return _AUTOLINK_STARTS.sub(_break_autolink, escaped)


def _break_autolink(match: re.Match[str]) -> str:
    word = match.group(0)
    if match.group(3):  # the @ of an address
        return WORD_JOINER + word
    return word[0] + WORD_JOINER + word[1:]


#: CommonMark with GFM tables, as Streamlit's renderer reads block structure: which lines are code.
_BLOCKS = MarkdownIt("commonmark").enable("table")
#: A code span on one line: a backtick run no backslash escapes, closed by a run of the same
#: length. No `|` inside, since a table cell may end there, and markdown would then see no span.
_CODE_SPAN = re.compile(r"(?<![\\`])(?P<ticks>`+)(?!`)[^\n|]*?(?<!`)(?P=ticks)(?!`)")
#: ![alt](url "title") and [text](url "title"), the url bare or in <angle brackets>, no escaped [.
_INLINE_LINK = re.compile(
    r"(?<!\\)(?P<image>!?)\[(?P<text>(?:\\.|[^\[\]\\\n])*)\]\(\s*(?:<(?P<angled>[^<>\n]*)>"
    r"|(?P<bare>[^\s()]*(?:\([^\s()]*\)[^\s()]*)*))(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"
)
#: An unescaped [ : what is left after the rewrites below can then open no link or image
#: (reference-style ones included, whose definitions may sit anywhere in the text).
_OPEN_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)\[")


def answer_markdown(text: str) -> str:
    """A model's answer (or an imported message) as markdown that loads nothing and hides no link
    target: an image becomes `[image: alt] (url)` in words, a link `text (url)`, and any other
    link syntax shows as typed. Raw HTML needs no rewrite: st.markdown shows it as text, as this
    app never passes unsafe_allow_html. Why: a prompt-injected answer could send the
    conversation to a server in an image's URL, fetched the moment the answer is drawn.

    Code is left as it is, since markdown shows it literally: code blocks as a CommonMark parser
    finds them, and code spans on one line. Where this reading of a span could differ from
    markdown's (after an unclosed `<`, which may open an HTML tag or an autolink), the text is
    taken as prose: a wrong guess costs a stray backslash in code, never a live link."""
    lines = text.splitlines(keepends=True)
    code_lines: set[int] = set()
    for token in _BLOCKS.parse(text):
        if token.type in ("fence", "code_block") and token.map:
            code_lines.update(range(*token.map))
    out: list[str] = []
    prose: list[str] = []  # the prose lines since the last code line
    for number, line in enumerate(lines):
        if number in code_lines:
            out.append(_prose("".join(prose)))
            prose = []
            out.append(line)
        else:
            prose.append(line)
    out.append(_prose("".join(prose)))
    return "".join(out)


def _prose(text: str) -> str:
    """Markdown outside code blocks: links defused around its code spans."""
    pieces, last = [], 0
    for span in _CODE_SPAN.finditer(text):
        before = text[text.rfind("\n", 0, span.start()) + 1 : span.start()]
        if before.rfind("<") > before.rfind(">"):
            continue  # perhaps inside an HTML tag or an autolink: not surely code
        pieces.append(_defuse_links(text[last : span.start()]))
        pieces.append(span.group(0))
        last = span.end()
    pieces.append(_defuse_links(text[last:]))
    return "".join(pieces)


def _defuse_links(prose: str) -> str:
    rewritten = _INLINE_LINK.sub(_link_in_words, prose)
    return _OPEN_BRACKET.sub(lambda match: f"{match.group(1)}\\[", rewritten)


def _link_in_words(match: re.Match[str]) -> str:
    text = match.group("text").strip()
    url = match.group("angled") if match.group("angled") is not None else match.group("bare")
    target = f" ({as_plain_text(url)})" if url else ""
    if match.group("image"):
        return f"\\[image: {text or 'no description'}\\]{target}"
    return f"{text}{target}" if text else target.strip()
