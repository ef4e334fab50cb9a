"""Chunking: bounded sizes, overlapping neighbours, offsets that point back into the text."""

from __future__ import annotations

import itertools

import pytest

from chatbot.retrieval.chunking import split_text
from chatbot.retrieval.settings import RetrievalSettings
from tests.chatbot.retrieval.documents import ALICE


@pytest.fixture(scope="module")
def alice() -> str:
    return ALICE.read_text()


def test_chunks_stay_within_the_size_and_cover_the_text_in_order(alice):
    chunks = split_text(alice, chunk_size=1000, chunk_overlap=200)
    assert len(chunks) > 40
    assert all(len(chunk.text) <= 1000 for chunk in chunks)
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    assert chunks[0].text.startswith("CHAPTER I. Down the Rabbit-Hole")
    assert chunks[-1].text.endswith("taking not the smallest notice of her or of anything else.")


def test_each_offset_points_at_its_chunk_in_the_original_text(alice):
    for chunk in split_text(alice, chunk_size=500, chunk_overlap=100):
        assert alice[chunk.start_offset : chunk.start_offset + len(chunk.text)] == chunk.text


def test_chunks_leave_nothing_out_between_them(alice):
    chunks = split_text(alice, chunk_size=1000, chunk_overlap=200)
    for before, after in itertools.pairwise(chunks):
        assert alice[before.start_offset + len(before.text) : after.start_offset].strip() == ""


def test_a_paragraph_longer_than_a_chunk_is_cut_into_overlapping_pieces():
    paragraph = " ".join(f"word{number}" for number in range(400))
    chunks = split_text(paragraph, chunk_size=500, chunk_overlap=100)
    assert len(chunks) > 4
    for before, after in itertools.pairwise(chunks):
        shared = before.start_offset + len(before.text) - after.start_offset
        assert 50 <= shared <= 100


def test_without_overlap_pieces_of_a_long_paragraph_do_not_share_text():
    paragraph = " ".join(f"word{number}" for number in range(400))
    chunks = split_text(paragraph, chunk_size=500, chunk_overlap=0)
    for before, after in itertools.pairwise(chunks):
        assert after.start_offset >= before.start_offset + len(before.text)


def test_size_is_configurable(alice):
    small = split_text(alice, chunk_size=300, chunk_overlap=50)
    large = split_text(alice, chunk_size=2000, chunk_overlap=200)
    assert len(small) > 3 * len(large)
    assert all(len(chunk.text) <= 300 for chunk in small)


def test_markdown_prefers_to_split_at_headings():
    text = "# One\n\n" + "alpha " * 30 + "\n\n# Two\n\n" + "beta " * 30
    chunks = split_text(text, chunk_size=250, chunk_overlap=0, content_type="text/markdown")
    assert [chunk.text.split("\n")[0] for chunk in chunks] == ["# One", "# Two"]


def test_a_short_text_is_one_chunk():
    assert [chunk.text for chunk in split_text("Just a line.", chunk_size=1000, chunk_overlap=200)] == [
        "Just a line."
    ]


def test_the_defaults_are_the_original_chatbots_1000_and_200():
    settings = RetrievalSettings()
    assert (settings.chunk_size, settings.chunk_overlap) == (1000, 200)


def test_an_overlap_as_large_as_the_chunk_is_a_configuration_error():
    with pytest.raises(ValueError, match="chunk_overlap .* must be smaller than chunk_size"):
        RetrievalSettings(chunk_size=500, chunk_overlap=500)
