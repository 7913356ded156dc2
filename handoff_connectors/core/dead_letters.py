"""Parked items: what could not be delivered, kept with its reason for a person to decide.

A queue never waits on an item it cannot deliver: the item moves to
`dead:<queue>` with why, and the rest go on. From there an operator lists
and reads them (`rasa-handoff dead-letters`), drops what is obsolete, and
replays what can go now (a desk fixed, a bug deployed): a replayed item goes
to the back of its queue, and the sidecar delivers it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .outbox import DEAD_LETTERS, dead_letter_queue
from .store import Drop, Push, Store


@dataclass(frozen=True)
class Parked:
    queue: str  # the queue it was parked from
    item: dict

    @property
    def item_id(self) -> str:
        return str(self.item.get("id"))

    @property
    def reason(self) -> str:
        return str((self.item.get("parked") or {}).get("reason", "(no reason recorded)"))

    @property
    def parked_at(self) -> Optional[float]:
        at = (self.item.get("parked") or {}).get("at")
        return at if isinstance(at, (int, float)) else None


async def parked_items(store: Store, limit_per_queue: int = 1000) -> list[Parked]:
    """Every parked item, queue by queue, oldest first."""
    found = []
    for dead in sorted(await store.queues(DEAD_LETTERS)):
        for item in await store.items(dead, limit_per_queue):
            found.append(Parked(dead[len(DEAD_LETTERS):], item))
    return found


async def find(store: Store, item_id: str) -> Optional[Parked]:
    for parked in await parked_items(store):
        if parked.item_id == item_id:
            return parked
    return None


async def replay(store: Store, parked: Parked) -> bool:
    """Put the item back at the end of its queue, in one step. False if it was gone already."""
    item = {key: value for key, value in parked.item.items() if key != "parked"}
    # Once per parking: two operators replaying the same item at once put it back once.
    once = f"replay:{parked.queue}:{parked.item_id}:{parked.parked_at}"
    dropped, _ = await store.write(
        Drop(dead_letter_queue(parked.queue), parked.item_id), Push(parked.queue, item, once=once)
    )
    return dropped


async def drop(store: Store, parked: Parked) -> bool:
    return (await store.write(Drop(dead_letter_queue(parked.queue), parked.item_id)))[0]
