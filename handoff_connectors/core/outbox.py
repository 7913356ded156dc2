"""Ordered, at-least-once delivery of a queue's items, one at a time.

The actions push what the desk must get (`to_desk:<handoff>`), the sidecar
pushes what Rasa must get (`to_rasa:<sender>`). Whoever holds a queue's lease
delivers its oldest item and removes it only once delivery succeeded, so a
desk or Rasa that is down delays messages but never drops or reorders them.
The receiving side recognises a redelivery by the item's id.

Leases are short and renewed by a heartbeat while a delivery runs, so a
process that died holding one (SIGKILL, power cut) stops blocking its queue
within `LEASE_SECONDS`. No item can stop a queue for good: a refusal parks it
at once, an unexpected error parks it after `MAX_ATTEMPTS` tries, each with
its reason, and the items behind it go on in order.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable, Optional

from .store import Change, Pop, Push, Store

logger = logging.getLogger(__name__)

# A dead holder's lease lapses after this; a live one renews it every RENEW_SECONDS.
LEASE_SECONDS = 5.0
RENEW_SECONDS = 1.5
# Tries of an item whose delivery raised something unexpected, before it is parked.
MAX_ATTEMPTS = 5


class RetryLater(Exception):
    """Delivery failed for now; keep the item and try again later."""


class RetryLimited(RetryLater):
    """Delivery failed in a way that may pass, but not forever: parked after MAX_ATTEMPTS."""


class Undeliverable(Exception):
    """The receiver refused the item for good; it is parked, not lost."""


# Delivers one item; may return further changes to commit with its removal.
Deliver = Callable[[dict], Awaitable[Optional[Iterable[Change]]]]


class Drained(enum.Enum):
    EMPTY = "empty"  # every item delivered
    WAITING = "waiting"  # the head must wait (retry later, with backoff)
    BUSY = "busy"  # another process holds the queue


# Where a queue's parked items wait: its name behind this prefix.
DEAD_LETTERS = "dead:"


def dead_letter_queue(queue: str) -> str:
    return DEAD_LETTERS + queue


@dataclass
class Attempts:
    """Unexpected failures per item id, in this process (a restart starts again)."""

    counts: dict[str, int] = field(default_factory=dict)

    def failed(self, item_id: str) -> int:
        self.counts[item_id] = self.counts.get(item_id, 0) + 1
        return self.counts[item_id]

    def forget(self, item_id: str) -> None:
        self.counts.pop(item_id, None)


# Shared by the drains of this process that bring no counter of their own.
_PROCESS_ATTEMPTS = Attempts()


# Told the queue's name each time an item is parked (a metric).
OnPark = Callable[[str], None]


async def drain(
    store: Store,
    queue: str,
    deliver: Deliver,
    owner: str,
    attempts: Optional[Attempts] = None,
    on_park: Optional[OnPark] = None,
) -> Drained:
    """Deliver `queue` oldest first, while this process holds its lease."""
    lease = f"lease:{queue}"
    if not await store.acquire(lease, owner, LEASE_SECONDS):
        return Drained.BUSY
    heartbeat = asyncio.get_running_loop().create_task(_renew(store, lease, owner))
    try:
        while (item := await store.peek(queue)) is not None:
            outcome = await _deliver_one(store, queue, item, deliver, attempts or _PROCESS_ATTEMPTS, on_park)
            if outcome is not None:
                return outcome
        return Drained.EMPTY
    finally:
        heartbeat.cancel()
        try:
            await store.release(lease, owner)
        except Exception:
            # Not raised over the error that brought us here; the lease lapses by itself.
            logger.warning("Could not release %s; it lapses within %.0f s", lease, LEASE_SECONDS, exc_info=True)


async def _deliver_one(
    store: Store, queue: str, item: dict, deliver: Deliver, attempts: Attempts, on_park: Optional[OnPark]
) -> Optional[Drained]:
    item_id = str(item.get("id"))
    try:
        follow_up = await deliver(item)
    except RetryLimited as reason:
        return await _failed_again(store, queue, item, attempts, f"last: {reason}", on_park)
    except RetryLater as reason:
        logger.info("%s: item %s waits: %s", queue, item_id, reason)
        return Drained.WAITING
    except Undeliverable as refusal:
        await park(store, queue, item, str(refusal), on_park)
        return None
    except asyncio.CancelledError:
        raise
    except Exception as error:
        logger.exception("%s: delivering item %s failed", queue, item_id)
        return await _failed_again(store, queue, item, attempts, f"last with {type(error).__name__}: {error}", on_park)
    attempts.forget(item_id)
    await store.write(Pop(queue, item_id), *(follow_up or ()))
    logger.debug("%s: delivered item %s", queue, item_id)
    return None


async def _failed_again(
    store: Store, queue: str, item: dict, attempts: Attempts, last: str, on_park: Optional[OnPark]
) -> Optional[Drained]:
    """One more failure that may pass: the item waits, or is parked once it has failed MAX_ATTEMPTS times."""
    item_id = str(item.get("id"))
    tries = attempts.failed(item_id)
    if tries < MAX_ATTEMPTS:
        logger.warning("%s: item %s waits (try %d of %d, %s)", queue, item_id, tries, MAX_ATTEMPTS, last)
        return Drained.WAITING
    attempts.forget(item_id)
    await park(store, queue, item, f"failed {tries} times, {last}", on_park)
    return None


async def park(store: Store, queue: str, item: dict, reason: str, on_park: Optional[OnPark] = None) -> None:
    """Move the head `item` to the queue's dead letters, with why, in one step."""
    logger.error("Parking item %s of %s: %s", item.get("id"), queue, reason)
    parked = {**item, "parked": {"reason": reason, "at": time.time(), "queue": queue}}
    item_id = str(item.get("id"))
    # The once-key keeps a second finisher of the same head from parking it twice.
    await store.write(Push(dead_letter_queue(queue), parked, once=f"parked:{queue}:{item_id}"), Pop(queue, item_id))
    if on_park is not None:
        on_park(queue)


async def _renew(store: Store, lease: str, owner: str) -> None:
    while True:
        await asyncio.sleep(RENEW_SECONDS)
        try:
            await store.acquire(lease, owner, LEASE_SECONDS)
        except Exception:
            logger.warning("Could not renew %s; trying again", lease, exc_info=True)


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

    def postpone(self, queue: str, delay: float) -> None:
        """Look again after `delay`, without counting a failure (the queue is busy elsewhere)."""
        self._due[queue] = time.monotonic() + delay

    def succeeded(self, queue: str) -> None:
        self._due.pop(queue, None)
        self._failures.pop(queue, None)

    def failures(self, queue: str) -> int:
        return self._failures.get(queue, 0)


def new_owner() -> str:
    return uuid.uuid4().hex
