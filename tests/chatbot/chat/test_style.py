"""The style of answers and the category of prompts, measured as a vote is cast (by rule)."""

from __future__ import annotations

import typing

import pytest

from chatbot.api.arena import Category
from chatbot.chat.style import CATEGORIES, UNCLASSIFIED, categorize, markdown_counts


def test_markdown_headers_list_items_and_bold_spans_are_counted():
    answer = (
        "# Title\nIntro with **bold** and __more__.\n## Part\n- one\n* two\n1. three\n#hashtag, not a header"
    )
    assert markdown_counts(answer) == (2, 3, 2)
    assert markdown_counts("plain text, no markdown") == (0, 0, 0)


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("Why does my Python function return None?", "code"),
        ("Fix this:\n```\nx = [1, 2\n```", "code"),
        ("Solve x^2 - 4 = 0", "maths"),
        ("What is 17 * 23?", "maths"),
        ("Write a haiku about the sea", "creative_writing"),
        ("Name three fruits in exactly 3 words", "instructions"),
        ("Answer as JSON: what colour is the sky?", "instructions"),
        ("Who was Ada Lovelace? Where did she live? What did she write? Why does it matter?", "hard"),
        ("Hello, how are you?", "general"),
        (None, UNCLASSIFIED),
    ],
)
def test_a_prompt_is_classified_by_the_first_rule_it_matches(prompt, category):
    assert categorize(prompt) == category


def test_the_apis_categories_are_the_classifiers():
    assert set(typing.get_args(Category)) == {*CATEGORIES, UNCLASSIFIED}
