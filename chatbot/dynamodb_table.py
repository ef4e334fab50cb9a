"""The DynamoDB table a store works on, one boto3 resource per thread.

boto3 resources are not thread-safe, and the stores are called from several threads at once (the
API's thread pool, a compare's lanes saving side by side), so each thread gets its own Table.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3


class PerThreadTable:
    """`_table = PerThreadTable()` on a store class that sets `table_name` and `_region`: reading
    `self._table` gives the calling thread's own Table resource, made on its first read."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}_per_thread"

    def __get__(self, store: Any, owner: type | None = None) -> Any:
        if store is None:
            return self
        # setdefault: two threads reading first at once still share one threading.local.
        local = store.__dict__.setdefault(self._slot, threading.local())
        table = getattr(local, "table", None)
        if table is None:
            table = boto3.resource("dynamodb", region_name=store._region).Table(store.table_name)
            local.table = table
        return table
