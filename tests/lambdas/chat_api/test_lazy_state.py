"""The chat API's state builds a registered service on first read, once, and tries a failed build
again (lambdas/chat_api/wiring.py: LazyState)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chatbot.postgres import DatabaseUnavailableError
from lambdas.chat_api.wiring import LazyState


def test_a_service_is_built_by_its_first_reader_once_while_the_others_wait():
    state = LazyState()
    builds: list[int] = []

    def build() -> object:
        builds.append(1)
        return object()

    state.lazy("service", build)
    assert not state.built("service")
    with ThreadPoolExecutor(8) as pool:
        values = list(pool.map(lambda _: state.service, range(8)))
    assert len(builds) == 1
    assert all(value is values[0] for value in values)
    assert state.built("service")


def test_a_failed_build_reaches_the_reader_and_the_next_read_tries_again():
    state = LazyState()
    attempts: list[int] = []

    def build() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise DatabaseUnavailableError("The database is waking up; try again in a minute.")
        return "store"

    state.lazy("store", build)
    with pytest.raises(DatabaseUnavailableError):
        _ = state.store
    assert not state.built("store")
    assert state.store == "store"
    assert len(attempts) == 2


def test_values_set_directly_and_unknown_names_behave_as_starlettes_state():
    state = LazyState()
    state.max_document_bytes = 10
    assert state.max_document_bytes == 10
    with pytest.raises(AttributeError):
        _ = state.nothing_registered
    assert getattr(state, "nothing_registered", None) is None
