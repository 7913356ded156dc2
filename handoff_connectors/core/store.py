"""The store: handoffs, ordered outboxes, duplicate detection and locks.

Everything the actions and the sidecar share goes through `Store`, whose few
primitives a backend implements (sqlitedict on one machine now, Redis for
several replicas later). No backend type leaks out of here.
"""

from __future__ import annotations

import abc
import asyncio
import fcntl
import json
import os
import threading
import time
import uuid
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import AsyncIterator, Iterator, Optional

from sqlitedict import SqliteDict


class Store(abc.ABC):
    """Async key-value store with FIFO queues, once-only keys and leases."""

    @abc.abstractmethod
    async def get(self, key: str) -> Optional[dict]: ...

    @abc.abstractmethod
    async def put(self, key: str, value: dict) -> None: ...

    @abc.abstractmethod
    async def delete(self, key: str) -> None: ...

    @abc.abstractmethod
    async def push(self, queue: str, item: dict, once: Optional[str] = None) -> bool:
        """Append `item` to `queue`.

        With `once`, the push happens only if that key was never pushed
        before (atomically with the append); returns False for a duplicate.
        """

    @abc.abstractmethod
    async def peek(self, queue: str) -> Optional[dict]:
        """The oldest item of `queue`, left in place."""

    @abc.abstractmethod
    async def pop(self, queue: str, item_id: str) -> None:
        """Remove the oldest item of `queue` if its `id` is `item_id`."""

    @abc.abstractmethod
    async def queues(self, prefix: str) -> list[str]:
        """Names of the non-empty queues starting with `prefix`."""

    @abc.abstractmethod
    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        """Take the lease `name` for `ttl` seconds unless someone else holds it."""

    @abc.abstractmethod
    async def release(self, name: str, owner: str) -> None: ...

    async def close(self) -> None:
        return None


# How long a once-key is remembered: longer than any desk retries a webhook.
ONCE_TTL = 7 * 24 * 3600.0


class SqliteStore(Store):
    """The embedded default: one sqlite file, shared by the processes of one machine.

    sqlitedict keeps each call atomic; compound operations (read, change,
    write) run under an exclusive file lock so the action server and the
    sidecar can share the file safely. Values are JSON, never pickle.
    """

    def __init__(self, path: str) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = Path(f"{path}.lock")
        self._thread_lock = threading.Lock()
        self._db = SqliteDict(
            str(self._path),
            tablename="handoff",
            autocommit=True,
            encode=json.dumps,
            decode=json.loads,
            timeout=30,
        )

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._thread_lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    async def _run(self, function, *args):
        return await asyncio.to_thread(function, *args)

    # -- plain keys ----------------------------------------------------------

    async def get(self, key: str) -> Optional[dict]:
        return await self._run(self._db.get, f"k:{key}")

    async def put(self, key: str, value: dict) -> None:
        def write() -> None:
            with self._exclusive():
                self._db[f"k:{key}"] = value

        await self._run(write)

    async def delete(self, key: str) -> None:
        def remove() -> None:
            with self._exclusive():
                self._db.pop(f"k:{key}", None)

        await self._run(remove)

    # -- queues --------------------------------------------------------------

    async def push(self, queue: str, item: dict, once: Optional[str] = None) -> bool:
        def append() -> bool:
            with self._exclusive():
                now = time.time()
                if once is not None:
                    seen_until = self._db.get(f"o:{once}")
                    if seen_until is not None and seen_until > now:
                        return False
                    self._db[f"o:{once}"] = now + ONCE_TTL
                self._db[f"q:{queue}"] = [*self._db.get(f"q:{queue}", []), item]
                self._index(queue, present=True)
                return True

        return await self._run(append)

    async def peek(self, queue: str) -> Optional[dict]:
        items = await self._run(self._db.get, f"q:{queue}", [])
        return items[0] if items else None

    async def pop(self, queue: str, item_id: str) -> None:
        def remove_head() -> None:
            with self._exclusive():
                items = self._db.get(f"q:{queue}", [])
                if items and items[0].get("id") == item_id:
                    if len(items) == 1:
                        del self._db[f"q:{queue}"]
                        self._index(queue, present=False)
                    else:
                        self._db[f"q:{queue}"] = items[1:]

        await self._run(remove_head)

    def _index(self, queue: str, present: bool) -> None:
        # The names of the non-empty queues, so polling never scans the table.
        names = set(self._db.get("queues", []))
        if (queue in names) != present:
            names.symmetric_difference_update({queue})
            self._db["queues"] = sorted(names)

    async def queues(self, prefix: str) -> list[str]:
        names = await self._run(self._db.get, "queues", [])
        return [name for name in names if name.startswith(prefix)]

    # -- leases --------------------------------------------------------------

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        def take() -> bool:
            with self._exclusive():
                now = time.time()
                held = self._db.get(f"l:{name}")
                if held and held["owner"] != owner and held["until"] > now:
                    return False
                self._db[f"l:{name}"] = {"owner": owner, "until": now + ttl}
                return True

        return await self._run(take)

    async def release(self, name: str, owner: str) -> None:
        def give_back() -> None:
            with self._exclusive():
                held = self._db.get(f"l:{name}")
                if held and held["owner"] == owner:
                    del self._db[f"l:{name}"]

        await self._run(give_back)

    async def close(self) -> None:
        await self._run(self._db.close)


def open_store(settings) -> Store:
    """The store named by handoff.yml's `store:` section."""
    if settings.type == "sqlite":
        return SqliteStore(settings.path)
    raise ValueError(f"store.type {settings.type!r} is not supported")


@asynccontextmanager
async def locked(store: Store, name: str, wait: float = 10.0, ttl: float = 30.0) -> AsyncIterator[None]:
    """Hold the lease `name` for a read-change-write, waiting for it if taken."""
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while not await store.acquire(name, owner, ttl):
        if time.monotonic() > deadline:
            raise TimeoutError(f"lease {name!r} still held after {wait:.0f} s")
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        await store.release(name, owner)
