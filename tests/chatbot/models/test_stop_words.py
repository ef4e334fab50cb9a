from __future__ import annotations

from chatbot.models.stop_words import StopWordFilter


def test_text_that_may_start_a_stop_word_waits_for_the_next_chunk():
    stop = StopWordFilter(["\nUser:"])
    assert stop.feed("Paris is nice.\nUs") == "Paris is nice."
    assert stop.feed("ually yes") == "\nUsually yes"
    assert not stop.stopped


def test_a_stop_word_split_across_chunks_ends_the_answer_and_is_never_shown():
    stop = StopWordFilter(["<|im_end|>"])
    assert stop.feed("Done<|im") == "Done"
    assert stop.feed("_end|> trailing") == ""
    assert stop.stopped
    assert stop.feed("more") == ""
    assert stop.flush() == ""


def test_held_text_is_released_at_the_end_of_the_stream():
    stop = StopWordFilter(["</s>"])
    assert stop.feed("a <") == "a "
    assert stop.flush() == "<"


def test_the_earliest_stop_word_wins():
    stop = StopWordFilter(["B", "A"])
    assert stop.feed("xxAyyB") == "xx"
