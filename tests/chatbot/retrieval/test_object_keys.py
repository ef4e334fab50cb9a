"""The documents bucket's key layout: a key says whose document it is, both ways."""

from __future__ import annotations

import pytest

from chatbot.retrieval.object_keys import KeyLayoutError, object_key, owner_of


@pytest.mark.parametrize(
    ("key", "workspace", "user", "source"),
    [
        ("private/ana/a.txt", "private", "ana", "a.txt"),
        ("private/ana/deep/er/a.txt", "private", "ana", "deep/er/a.txt"),
        ("shared/team-1/a.txt", "team-1", "", "a.txt"),
    ],
)
def test_the_key_says_whose_document_it_is(key, workspace, user, source):
    owner = owner_of(key)
    assert (owner.workspace, owner.user_id, owner.source) == (workspace, user, source)


@pytest.mark.parametrize(
    "key",
    ["a.txt", "private/a.txt", "private//a.txt", "private/ana/", "shared/private/a.txt", "shared/Bad/a.txt"],
)
def test_keys_outside_the_layout_are_not_indexed(key):
    with pytest.raises(KeyLayoutError, match="private/<user_id>/<path> or shared/<workspace>/<path>"):
        owner_of(key)


@pytest.mark.parametrize(
    ("workspace", "user", "path", "key"),
    [
        ("private", "ana", "a.txt", "private/ana/a.txt"),
        ("team-1", "ana", "a.txt", "shared/team-1/a.txt"),
    ],
)
def test_a_key_written_for_an_owner_reads_back_as_that_owner(workspace, user, path, key):
    assert object_key(workspace, user, path) == key
    assert owner_of(key).workspace == workspace


def test_a_user_id_that_would_name_another_folder_gets_no_key():
    with pytest.raises(KeyLayoutError, match="would not read back"):
        object_key("private", "ana/../ben", "a.txt")
