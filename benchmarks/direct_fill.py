"""Writing live handoffs straight into the store, for levels opening through the service cannot reach in time.

This knows the store layout of the engine as of commit d65a436 (the one the
benchmarks were written against): a handoff record, the sender's and the
desk conversation's pointers to it, its waiting timer and the timers' index
of keys. A layout the engine no longer reads is never used: `recognised`
writes two handoffs this way and asks the engine's own `active()` and
`Timers.due()` whether they see them; when they don't, the keys are removed
again and the store benchmark says the level is out of reach instead of
measuring a store the engine would not recognise.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Sequence

from handoff_connectors.core.store import Store
from handoff_connectors.core.timers import Timers

TIMER_INDEX = "timers:index"
WAITING = "waiting"


def _keys(connector: str, handoff_id: str, sender_id: str) -> dict[str, str]:
    return {
        "record": f"handoff:{handoff_id}",
        "desk": f"desk:{connector}:{handoff_id}",
        "active": f"active:{sender_id}",
        "timer": f"timer:{handoff_id}:{WAITING}",
    }


def _values(connector: str, handoff_id: str, sender_id: str, waiting: float) -> dict[str, dict[str, Any]]:
    """What each key holds after `open` and a delivered start (the desk echoes the handoff id)."""
    now = time.time()
    return {
        "record": {
            "handoff_id": handoff_id, "sender_id": sender_id, "connector": connector, "email": "ana@example.com",
            "language": "en", "created_at": now, "desk_conversation_id": handoff_id, "routing": None,
        },
        "desk": {"handoff_id": handoff_id},
        "active": {"handoff_id": handoff_id},
        "timer": {
            "id": f"{handoff_id}:{WAITING}:{uuid.uuid4().hex[:12]}", "handoff_id": handoff_id,
            "sender_id": sender_id, "kind": WAITING, "due": now + waiting,
        },
    }


async def write(store: Store, connector: str, senders: Sequence[str], waiting: float) -> list[str]:
    """One live handoff per sender, as the engine's `open` (and a delivered start) leaves it; the keys written."""
    written, timer_keys = [], []
    for sender in senders:
        handoff_id = uuid.uuid4().hex
        keys, values = _keys(connector, handoff_id, sender), _values(connector, handoff_id, sender, waiting)
        for part, key in keys.items():
            await store.put(key, values[part])
            written.append(key)
        timer_keys.append(keys["timer"])
    index = (await store.get(TIMER_INDEX) or {}).get("keys", [])
    await store.put(TIMER_INDEX, {"keys": [*index, *timer_keys]})
    return written


async def recognised(store: Store, service: Any, connector: str, waiting: float) -> bool:
    """Whether the engine sees handoffs written this way (the probe's two stay live when it does)."""
    senders = [f"bench-probe-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    index_before = await store.get(TIMER_INDEX)
    written = await write(store, connector, senders, waiting)
    try:
        found = [await service.active(sender) for sender in senders]
        far_future = Timers(store, clock=lambda: time.time() + 10 * waiting)
        due = {timer.get("sender_id") for timer in await far_future.due()}
        if all(found) and set(senders) <= due:
            return True
    except Exception:  # an engine that reads these keys differently may fail in any way
        pass
    for key in written:
        await store.delete(key)
    if index_before is None:
        await store.delete(TIMER_INDEX)
    else:
        await store.put(TIMER_INDEX, index_before)
    return False
