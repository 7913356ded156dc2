"""The store's contract: what the actions, the sidecar and the connectors share.

Plain keys, FIFO queues with once-only pushes, leases, timers indexed by due
time, and a wake-up signal that tells the sidecars which queue just got work.
Every compound change goes through `write`, which applies its changes as one
atomic unit, so a crash never leaves half a handoff behind and each backend
does one round trip (one sqlite transaction, one Redis script call) for it.
"""

from __future__ import annotations

import abc
import asyncio
import json
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Iterable, Optional, Union

# How long a once-key is remembered: longer than any desk retries a webhook.
ONCE_TTL = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Put:
    key: str
    value: dict


@dataclass(frozen=True)
class Delete:
    key: str


@dataclass(frozen=True)
class Push:
    """Append `item` to `queue`; with `once`, only if that key was never pushed before."""

    queue: str
    item: dict
    once: Optional[str] = None


@dataclass(frozen=True)
class Pop:
    """Remove the head of `queue` if its `id` is `item_id` (two finishers remove one item)."""

    queue: str
    item_id: str


@dataclass(frozen=True)
class Drop:
    """Remove the first item of `queue` whose `id` is `item_id`, wherever it stands.

    For dead letters, which an operator drops or replays one by one; live
    queues only ever lose their head (`Pop`).
    """

    queue: str
    item_id: str


@dataclass(frozen=True)
class ArmTimer:
    """Set the timer at `key` (replacing any), due at `timer["due"]` (epoch seconds)."""

    key: str
    timer: dict


@dataclass(frozen=True)
class DisarmTimer:
    key: str


Change = Union[Put, Delete, Push, Pop, Drop, ArmTimer, DisarmTimer]

# Called with a queue's name when any process pushed to it.
QueueListener = Callable[[str], None]


class Store(abc.ABC):
    """Async store shared by every process of a deployment."""

    # -- reads ---------------------------------------------------------------

    @abc.abstractmethod
    async def get(self, key: str) -> Optional[dict]: ...

    @abc.abstractmethod
    async def peek(self, queue: str) -> Optional[dict]:
        """The oldest item of `queue`, left in place."""

    @abc.abstractmethod
    async def items(self, queue: str, limit: int = 100) -> list[dict]:
        """The oldest `limit` items of `queue`, oldest first, left in place."""

    @abc.abstractmethod
    async def queues(self, prefix: str) -> list[str]:
        """Names of the non-empty queues starting with `prefix`."""

    @abc.abstractmethod
    async def depths(self) -> dict[str, int]:
        """How many items wait in all queues, by kind (the name up to its first ':')."""

    @abc.abstractmethod
    async def timer(self, key: str) -> Optional[dict]: ...

    @abc.abstractmethod
    async def due_timers(self, now: float, limit: int = 100) -> list[dict]:
        """Armed timers due at `now`, earliest first (an index lookup, not a scan)."""

    # -- writes --------------------------------------------------------------

    @abc.abstractmethod
    async def write(self, *changes: Change) -> list[bool]:
        """Apply `changes` atomically, in order; one result per change.

        A Push answers False when its once-key was seen (nothing appended), a
        Pop False when the head was not that item, a Drop False when no item
        had that id; the other changes always apply. Listeners hear of every queue that got an item.
        """

    async def put(self, key: str, value: dict) -> None:
        await self.write(Put(key, value))

    async def delete(self, key: str) -> None:
        await self.write(Delete(key))

    async def push(self, queue: str, item: dict, once: Optional[str] = None) -> bool:
        return (await self.write(Push(queue, item, once)))[0]

    async def pop(self, queue: str, item_id: str) -> bool:
        return (await self.write(Pop(queue, item_id)))[0]

    @abc.abstractmethod
    async def claim_timer(self, key: str, timer_id: str) -> bool:
        """Delete the timer at `key` if it is still `timer_id`: True for exactly one caller."""

    # -- leases --------------------------------------------------------------

    @abc.abstractmethod
    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        """Take (or renew) the lease `name` for `ttl` seconds unless someone else holds it."""

    @abc.abstractmethod
    async def release(self, name: str, owner: str) -> None: ...

    # -- life ----------------------------------------------------------------

    @abc.abstractmethod
    def listen(self, listener: QueueListener) -> None:
        """Call `listener(queue)` whenever any process pushes to a queue (needs a running loop)."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise unless the store answers."""

    async def close(self) -> None:
        return None


def key_text(value: str) -> str:
    """`value` as a backend can take it as a key: a lone surrogate (half an emoji) becomes its escape."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def dump_value(value: dict) -> str:
    """A value as compact ASCII JSON: lone surrogates survive as \\ud83d escapes instead of failing."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def pushed_queues(changes: Iterable[Change], results: list[bool]) -> list[str]:
    """The queues that really got an item from `changes`, each once, in order."""
    names: list[str] = []
    for change, applied in zip(changes, results):
        if isinstance(change, Push) and applied and change.queue not in names:
            names.append(change.queue)
    return names


def queue_kind(queue: str) -> str:
    return queue.split(":", 1)[0]


@asynccontextmanager
async def locked(store: Store, name: str, wait: float = 10.0, ttl: float = 30.0) -> AsyncIterator[None]:
    """Hold the lease `name` for a read-change-write, waiting for it if taken."""
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while not await store.acquire(name, owner, ttl):
        if time.monotonic() > deadline:
            raise TimeoutError(f"lease {name!r} still held after {wait:.0f} s")
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        await store.release(name, owner)
