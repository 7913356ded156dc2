"""Handoff timers, kept in the store and fired by the sidecar.

Rasa's reminders live in the Rasa process and die with it; these survive a
restart of Rasa, the action server or the sidecar. A timer that came due
while nothing was running fires once, at the sidecar's next look. Timers are
indexed by due time in the store, so a look costs one index lookup however
many handoffs are live. Each armed timer has its own id: claiming it deletes
it only if it is still that timer, so of several sidecars only one fires it.
"""

from __future__ import annotations

import time
import uuid
from typing import Callable, Optional

from .store import ArmTimer, DisarmTimer, Store

WAITING = "waiting"
SESSION = "session"
KINDS = (WAITING, SESSION)

# At most this many timers fire per look; the rest at the next one.
BATCH = 200

Clock = Callable[[], float]


def _key(handoff_id: str, kind: str) -> str:
    return f"timer:{handoff_id}:{kind}"


class Timers:
    def __init__(self, store: Store, clock: Clock = time.time) -> None:
        self.store = store
        self.clock = clock

    def arming(self, handoff_id: str, sender_id: str, kind: str, delay: float) -> ArmTimer:
        """The change that arms (or re-arms) a timer, to write with others."""
        timer = {
            "id": f"{handoff_id}:{kind}:{uuid.uuid4().hex[:12]}",
            "handoff_id": handoff_id,
            "sender_id": sender_id,
            "kind": kind,
            "due": self.clock() + delay,
        }
        return ArmTimer(_key(handoff_id, kind), timer)

    def disarming(self, handoff_id: str, *kinds: str) -> list[DisarmTimer]:
        return [DisarmTimer(_key(handoff_id, kind)) for kind in kinds or KINDS]

    async def arm(self, handoff_id: str, sender_id: str, kind: str, delay: float) -> dict:
        change = self.arming(handoff_id, sender_id, kind, delay)
        await self.store.write(change)
        return change.timer

    async def disarm(self, handoff_id: str, *kinds: str) -> None:
        await self.store.write(*self.disarming(handoff_id, *kinds))

    async def pending(self, handoff_id: str, kind: str) -> Optional[dict]:
        return await self.store.timer(_key(handoff_id, kind))

    async def due(self, limit: int = BATCH) -> list[dict]:
        """Armed timers whose time has come, oldest first."""
        return await self.store.due_timers(self.clock(), limit)

    async def claim(self, timer: dict) -> bool:
        """Take `timer` for firing; False if it was disarmed, re-armed or taken meanwhile."""
        return await self.store.claim_timer(_key(timer["handoff_id"], timer["kind"]), timer["id"])
