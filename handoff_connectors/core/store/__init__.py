"""The store every process of a deployment shares: sqlite on one machine, Redis for several.

`open_store` builds the one `handoff.yml` names; everything else talks to
the `Store` contract in `base`, so no backend type leaks out of here.
"""

from __future__ import annotations

from .base import (
    ONCE_TTL,
    ArmTimer,
    Change,
    Delete,
    DisarmTimer,
    Drop,
    Pop,
    Push,
    Put,
    QueueListener,
    Store,
    locked,
    queue_kind,
)
from .sqlite import SqliteStore

__all__ = [
    "ONCE_TTL", "ArmTimer", "Change", "Delete", "DisarmTimer", "Drop", "Pop", "Push", "Put", "QueueListener",
    "SqliteStore", "Store", "locked", "open_store", "queue_kind",
]


def open_store(settings) -> Store:
    """The store named by handoff.yml's `store:` section."""
    if settings.type == "sqlite":
        return SqliteStore(settings.path, durable=settings.durable)
    if settings.type == "redis":
        from .redis import RedisStore

        return RedisStore.from_settings(settings)
    raise ValueError(f"store.type {settings.type!r} is not supported")
