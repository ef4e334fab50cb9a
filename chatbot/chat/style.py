"""What the leaderboard measures of a prompt and its answers as a vote is cast: the answers'
style (lmarena's style control: length, markdown headers, list items, bold spans) and the
prompt's category. Both are rules over the text, microseconds per vote: classifying never slows
a vote, and loads no model.

Categories, the first rule that matches wins (so each vote is in one category):

| category | the prompt... |
|---|---|
| `code` | has a code fence or inline code, or names a programming task or language (function, bug, regex, SQL, Python...) |
| `maths` | has an equation or arithmetic (`2+2`, `x^2`, `=`), or asks to solve, prove, integrate, differentiate, or calculate |
| `creative_writing` | asks for a poem, story, song, lyrics, haiku, joke, or a scene |
| `instructions` | sets constraints on the answer: a word, sentence or bullet count, a format (JSON, table, list), "do not", "must", "exactly" |
| `hard` | is long (over 400 characters) or asks for several steps: at least three questions or numbered items |
| `general` | anything else |
"""

from __future__ import annotations

import re

#: The style features, in the order of the fit's covariates.
STYLE_FEATURES = ("length", "headers", "lists", "bold")
CATEGORIES = ("code", "maths", "creative_writing", "instructions", "hard", "general")
#: Votes of a release that did not classify prompts.
UNCLASSIFIED = "unclassified"

_HEADER = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")


def markdown_counts(text: str) -> tuple[int, int, int]:
    """(headers, list items, bold spans) of an answer's markdown."""
    return len(_HEADER.findall(text)), len(_LIST_ITEM.findall(text)), len(_BOLD.findall(text))


_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "code",
        re.compile(
            r"```|`[^`\n]+`|\b(?:code|function|bug|compile|regex|sql|python|javascript|typescript|java|rust|"
            r"golang|c\+\+|bash|script|api|class|algorithm|stack trace|exception)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "maths",
        re.compile(
            r"\d\s*[-+*/^=]\s*\d|\b[a-z]\s*\^\s*\d|\b(?:solve|prove|integral|integrate|derivative|differentiate|"
            r"equation|calculate|probability|theorem|sum of|how many)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "creative_writing",
        re.compile(r"\b(?:poem|story|song|lyrics|haiku|limerick|joke|scene|fiction|sonnet)\b", re.IGNORECASE),
    ),
    (
        "instructions",
        re.compile(
            r"\b(?:in \d+ words|\d+ (?:words|sentences|bullet points|items)|exactly|must|do not|don't|"
            r"as json|in json|as a table|format)\b",
            re.IGNORECASE,
        ),
    ),
)


def categorize(prompt: str | None) -> str:
    """The prompt's category, by the rules above."""
    if prompt is None:
        return UNCLASSIFIED
    for category, rule in _RULES:
        if rule.search(prompt):
            return category
    if (
        len(prompt) > 400
        or prompt.count("?") >= 3
        or len(re.findall(r"^\s*\d+[.)]", prompt, re.MULTILINE)) >= 3
    ):
        return "hard"
    return "general"
