"""Waiting for what a real component does in its own time: read until it holds, never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def sample(
    read: Callable[[], object], *, every_s: float, until: Callable[[], bool], timeout_s: float
) -> list:
    """`read()` every `every_s` seconds until `until()` holds; all the values read."""
    values, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        values.append(read())
        if until():
            return values
        time.sleep(every_s)
    raise AssertionError(f"still waiting after {timeout_s} s; read so far: {values[-5:]}")


def eventually(read: Callable[[], T], until: Callable[[T], bool], *, timeout_s: float = 30) -> T:
    """The first value `read()` gives that `until` accepts (read every 0.2 s)."""
    values: list[T] = []
    sample(lambda: values.append(read()), every_s=0.2, until=lambda: until(values[-1]), timeout_s=timeout_s)
    return values[-1]
