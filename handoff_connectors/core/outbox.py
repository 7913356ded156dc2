"""Ordered, at-least-once delivery of a queue's items, one at a time.

The actions push what the desk must get (`to_desk:<handoff>`), the sidecar
pushes what Rasa must get (`to_rasa:<sender>`). Whoever holds a queue's lease
delivers its oldest item and removes it only once delivery succeeded, so a
desk or Rasa that is down delays messages but never drops or reorders them.
The receiving side recognises a redelivery by the item's id.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from .store import Store

logger = logging.getLogger(__name__)

LEASE_SECONDS = 60.0


class RetryLater(Exception):
    """Delivery failed for now; keep the item and try again later."""


class Undeliverable(Exception):
    """The receiver refused the item for good; it is parked, not lost."""


Deliver = Callable[[dict], Awaitable[None]]


def dead_letter_queue(queue: str) -> str:
    return f"dead:{queue}"


async def drain(store: Store, queue: str, deliver: Deliver, owner: str) -> bool:
    """Deliver `queue` oldest first. True once it is empty.

    False when another process holds the queue or an item must wait; the
    item stays at the head, so nothing behind it overtakes it.
    """
    lease = f"lease:{queue}"
    if not await store.acquire(lease, owner, LEASE_SECONDS):
        return False
    try:
        while (item := await store.peek(queue)) is not None:
            try:
                await deliver(item)
            except RetryLater as reason:
                logger.info("%s: item %s waits: %s", queue, item.get("id"), reason)
                return False
            except Undeliverable as refusal:
                logger.error("Parking item %s of %s: %s", item.get("id"), queue, refusal)
                await store.push(dead_letter_queue(queue), item)
            await store.pop(queue, item["id"])
            # Renew the lease for the next item.
            await store.acquire(lease, owner, LEASE_SECONDS)
        return True
    finally:
        await store.release(lease, owner)


@dataclass
class Backoff:
    """Per-queue retry delays of one process: 0.5 s doubling up to a cap."""

    cap: float
    _due: dict[str, float] = field(default_factory=dict)
    _failures: dict[str, int] = field(default_factory=dict)

    def is_due(self, queue: str, now: float | None = None) -> bool:
        return self._due.get(queue, 0.0) <= (now if now is not None else time.monotonic())

    def failed(self, queue: str) -> float:
        failures = self._failures.get(queue, 0) + 1
        self._failures[queue] = failures
        delay = min(self.cap, 0.5 * 2 ** (failures - 1))
        self._due[queue] = time.monotonic() + delay
        return delay

    def succeeded(self, queue: str) -> None:
        self._due.pop(queue, None)
        self._failures.pop(queue, None)

    def failures(self, queue: str) -> int:
        return self._failures.get(queue, 0)


def new_owner() -> str:
    return uuid.uuid4().hex
