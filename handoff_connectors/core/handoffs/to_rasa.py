"""Desk -> user: events queued for the Rasa conversation, and their delivery.

`accept` queues each desk event once (by its id) on the sender's
`to_rasa:<sender>` queue, with whatever the event changes in the handoff in
the same write: a close ends it, the first agent message starts the session
clock. The sidecar's pump pushes each item into Rasa with `trigger_intent`
and counts it delivered only once the handoff action acknowledged it.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Optional

from ..contract import AgentMessage, Connector, DeskEvent
from ..events import ENDING_EVENTS, ConversationClosed
from ..outbox import Attempts, Drained, drain
from ..rasa import RasaClient
from ..rasa_protocol import ENTITY_EVENT_ID, INTENT_AGENT_MESSAGE, INTENT_AGENT_SNOOZED, intent_for
from ..store import Change, Push, Store
from ..text import repaired
from ..timers import SESSION, WAITING, Timers
from ...observability.logs import log_context
from .metrics import Metrics, observe_queue_time
from .records import Handoff, Records

TO_RASA = "to_rasa:"


def rasa_item(handoff_id: str, event_id: str, intent: str, entities: dict[str, Any]) -> dict:
    """One item of a `to_rasa:` queue: the intent to trigger, its entities, the event's id."""
    return {
        "id": event_id,
        "handoff_id": handoff_id,
        "intent": intent,
        "entities": {ENTITY_EVENT_ID: event_id, **entities},
        "queued_at": time.time(),
    }


def to_rasa(sender_id: str, item: dict) -> Push:
    return Push(TO_RASA + sender_id, item, once=item["id"])


class RasaInbox:
    def __init__(
        self,
        store: Store,
        connector: Connector,
        records: Records,
        timers: Timers,
        rasa: Optional[RasaClient],
        owner: str,
        attempts: Attempts,
        metrics: Metrics,
        session_timeout: float,
        ending,
    ) -> None:
        self.store = store
        self.connector = connector
        self.records = records
        self.timers = timers
        self.rasa = rasa
        self.metrics = metrics
        self.session_timeout = session_timeout
        self._owner = owner
        self._attempts = attempts
        # What ending a handoff writes (the desk outbox's: timers off, not active).
        self._ending = ending

    async def accept(self, event: DeskEvent) -> Optional[Handoff]:
        """Queue a desk event for Rasa, once. None when no live handoff owns it."""
        event = repaired(event)
        handoff = await self.records.by_desk_conversation(event.desk_conversation_id)
        if handoff is None:
            return None
        intent, entities = intent_for(event)
        item = rasa_item(handoff.handoff_id, f"{self.connector.name}:{event.event_id}", intent, entities)
        changes: list[Change] = [to_rasa(handoff.sender_id, item)]
        if isinstance(event, AgentMessage) and handoff.first_reply_at is None:
            changes += self._first_reply(handoff)
        ends = isinstance(event, ENDING_EVENTS)
        if ends:
            # Nothing more goes to the desk; the loop ends when Rasa sees the event.
            changes += [*self._ending(handoff), *self.records.forgetting(handoff)]
        results = await self.store.write(*changes)
        if ends and results[0]:
            reason = "agent_closed" if isinstance(event, ConversationClosed) else "routing_failed"
            self.metrics.handoff_ended(self.connector.name, reason)
        return handoff

    def _first_reply(self, handoff: Handoff) -> list[Change]:
        now = time.time()
        self.metrics.first_agent_reply(self.connector.name, now - handoff.created_at)
        return [self.records.replaced(dataclasses.replace(handoff, first_reply_at=now))]

    async def deliver(self, queue: str) -> Drained:
        if self.rasa is None:
            raise RuntimeError("delivering to Rasa needs a RasaClient")
        sender_id = queue[len(TO_RASA):]

        async def push(item: dict) -> list[Change]:
            with log_context(handoff_id=item.get("handoff_id"), sender_id=sender_id):
                return await self._push(sender_id, item)

        return await drain(self.store, queue, push, self._owner, self._attempts, self.metrics.parked)

    async def _push(self, sender_id: str, item: dict) -> list[Change]:
        observe_queue_time(self.metrics, "to_rasa", item)
        started = time.perf_counter()
        await self.rasa.trigger_intent(sender_id, item["intent"], item["entities"], item["id"])  # type: ignore[union-attr]
        self.metrics.delivered("to_rasa", time.perf_counter() - started)
        if item["intent"] == INTENT_AGENT_MESSAGE:
            self.metrics.message("agent_to_user", self.connector.name)
            return self._agent_spoke(sender_id, item["handoff_id"])
        if item["intent"] == INTENT_AGENT_SNOOZED:
            # The agent will come back later: neither timeout applies meanwhile.
            return self.timers.disarming(item["handoff_id"])
        return []

    def _agent_spoke(self, sender_id: str, handoff_id: str) -> list[Change]:
        """The user has seen an agent message: stop waiting, start the session clock.

        Written with the item's removal. Should the handoff have ended
        meanwhile, the session timer finds no live handoff and does nothing.
        """
        return [
            *self.timers.disarming(handoff_id, WAITING),
            self.timers.arming(handoff_id, sender_id, SESSION, self.session_timeout),
        ]


__all__ = ["RasaInbox", "TO_RASA", "rasa_item", "to_rasa"]
