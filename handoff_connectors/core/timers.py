"""Handoff timers, kept in the store and fired by the sidecar.

Rasa's reminders live in the Rasa process and die with it; these survive a
restart of Rasa, the action server or the sidecar. A timer that came due
while nothing was running fires once, at the sidecar's next look. Each armed
timer has its own id: claiming it deletes it atomically, so of several
sidecars only one fires it.
"""

from __future__ import annotations

import time
import uuid
from typing import Callable, Optional

from .store import Store, locked

WAITING = "waiting"
SESSION = "session"
KINDS = (WAITING, SESSION)

_INDEX = "timers:index"

Clock = Callable[[], float]


def _key(handoff_id: str, kind: str) -> str:
    return f"timer:{handoff_id}:{kind}"


class Timers:
    def __init__(self, store: Store, clock: Clock = time.time) -> None:
        self.store = store
        self.clock = clock

    async def arm(self, handoff_id: str, sender_id: str, kind: str, delay: float) -> dict:
        timer = {
            "id": f"{handoff_id}:{kind}:{uuid.uuid4().hex[:12]}",
            "handoff_id": handoff_id,
            "sender_id": sender_id,
            "kind": kind,
            "due": self.clock() + delay,
        }
        await self.store.put(_key(handoff_id, kind), timer)
        async with locked(self.store, f"lock:{_INDEX}"):
            keys = (await self.store.get(_INDEX) or {}).get("keys", [])
            if _key(handoff_id, kind) not in keys:
                await self.store.put(_INDEX, {"keys": [*keys, _key(handoff_id, kind)]})
        return timer

    async def disarm(self, handoff_id: str, *kinds: str) -> None:
        for kind in kinds or KINDS:
            await self.store.delete(_key(handoff_id, kind))

    async def pending(self, handoff_id: str, kind: str) -> Optional[dict]:
        return await self.store.get(_key(handoff_id, kind))

    async def due(self) -> list[dict]:
        """Armed timers whose time has come, oldest first; forgets disarmed ones."""
        keys = (await self.store.get(_INDEX) or {}).get("keys", [])
        now, found, gone = self.clock(), [], []
        for key in keys:
            timer = await self.store.get(key)
            if timer is None:
                gone.append(key)
            elif timer["due"] <= now:
                found.append(timer)
        if gone:
            async with locked(self.store, f"lock:{_INDEX}"):
                keys = (await self.store.get(_INDEX) or {}).get("keys", [])
                await self.store.put(_INDEX, {"keys": [k for k in keys if k not in gone]})
        return sorted(found, key=lambda timer: timer["due"])

    async def claim(self, timer: dict) -> bool:
        """Take `timer` for firing; False if it was disarmed, re-armed or taken meanwhile."""
        key = _key(timer["handoff_id"], timer["kind"])
        async with locked(self.store, f"lock:{key}"):
            current = await self.store.get(key)
            if current is None or current["id"] != timer["id"]:
                return False
            await self.store.delete(key)
            return True
