"""Reading and writing the deployment's store from the test, as another process would.

Why: a poison item has to be put where the engine will meet it (its
queue), and "parked, not lost" can only be checked in the dead-letter
queues themselves.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, TypeVar

from handoff_connectors.core.config import StoreSettings
from handoff_connectors.core.outbox import dead_letter_queue
from handoff_connectors.core.store import Drop, Store, open_store

T = TypeVar("T")


def _with_store(settings: dict[str, Any], work: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = open_store(StoreSettings(**settings))
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def push(settings: dict[str, Any], queue: str, item: dict) -> None:
    _with_store(settings, lambda store: store.push(queue, item))


def drop(settings: dict[str, Any], queue: str, item_id: str) -> None:
    """Take an item out of `queue` wherever it stands (a poison a test left behind)."""
    _with_store(settings, lambda store: store.write(Drop(queue, item_id)))


def parked(settings: dict[str, Any]) -> dict[str, list[dict]]:
    """Every dead-letter queue and its items."""

    async def read(store: Store) -> dict[str, list[dict]]:
        return {queue: await store.items(queue, limit=1000) for queue in await store.queues(dead_letter_queue(""))}

    return _with_store(settings, read)


def waiting(settings: dict[str, Any], queue: str) -> list[dict]:
    """The items still in `queue`, oldest first."""
    return _with_store(settings, lambda store: store.items(queue, limit=1000))
