"""The handoff's two timeouts, fired by the sidecar.

Waiting: no agent reply this long after the request; the user is asked to
keep waiting or end. Session: no user message this long after the agent's
last one; the handoff ends. Each fires once across every sidecar (the store
claims it), and only for the handoff that armed it.
"""

from __future__ import annotations

from ..contract import CloseReason
from ..rasa_protocol import ENTITY_TIMER, INTENT_TIMEOUT
from ..timers import SESSION, Timers
from .records import Records
from .to_desk import DeskOutbox
from .to_rasa import rasa_item, to_rasa


class Timeouts:
    def __init__(self, timers: Timers, records: Records, outbox: DeskOutbox) -> None:
        self.timers = timers
        self.records = records
        self.outbox = outbox

    async def fire_due(self) -> int:
        """Fire every timer that came due, each once. Returns how many fired."""
        fired = 0
        for timer in await self.timers.due():
            if not await self.timers.claim(timer):
                continue
            handoff = await self.records.active(timer["sender_id"])
            if handoff is None or handoff.handoff_id != timer["handoff_id"]:
                continue
            event_id = f"timer:{timer['id']}"
            item = rasa_item(handoff.handoff_id, event_id, INTENT_TIMEOUT, {ENTITY_TIMER: timer["kind"]})
            # A session timeout also ends the handoff: one write for both.
            ending = self.outbox.closing(handoff, CloseReason.TIMEOUT) if timer["kind"] == SESSION else []
            await self.timers.store.write(*ending, to_rasa(handoff.sender_id, item))
            fired += 1
        return fired
