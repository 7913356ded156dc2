"""The handoff service: one face over the jobs a handoff is made of.

- `records`: the handoff's records and how a desk event finds its handoff;
- `to_desk`: what the actions queue for the desk, and its delivery;
- `to_rasa`: what the desk said, queued for the Rasa conversation, and its delivery;
- `status`: the desk's credential status, and agents' availability;
- `timeouts`: the waiting and session timeouts.

The actions call `open`, `relay`, `finish` (store writes only); the sidecar's
pump calls the deliveries `queues()` names.
"""

from __future__ import annotations

import time
from typing import Awaitable, Callable, Mapping, Optional, Sequence

from ..contract import Attachment, CloseReason, Connector, DeskEvent, HostsTheBot, ServiceStatus, Turn, UserWroteInDesk
from ..desk_bot import BOT_IN, BOT_OUT, DeskBot
from ..outbox import Attempts, Drained, new_owner
from ..rasa import RasaClient
from ..store import Store
from ..timers import WAITING, Timers
from .metrics import NO_METRICS, Metrics
from .records import Handoff, Records
from .status import ASK_AVAILABILITY, Availability, DeskStatus
from .timeouts import Timeouts
from .to_desk import TO_DESK, DeskOutbox
from .to_rasa import TO_RASA, RasaInbox

DrainQueue = Callable[[str], Awaitable[Drained]]


class HandoffService:
    def __init__(
        self,
        store: Store,
        connector: Connector,
        rasa: Optional[RasaClient] = None,
        waiting_timeout: float = 60.0,
        session_timeout: float = 180.0,
        clock=time.time,
        metrics: Metrics = NO_METRICS,
        rasa_url: Optional[str] = None,
        rasa_timeout: float = 30.0,
    ) -> None:
        self.store = store
        self.connector = connector
        self.metrics = metrics
        self.timers = Timers(store, clock)
        owner, attempts = new_owner(), Attempts()
        self.records = Records(store, connector.name)
        self.desk_status = DeskStatus(store, connector, metrics)
        self.availability = Availability(store, connector, owner, attempts, metrics)
        self.outbox = DeskOutbox(
            store, connector, self.records, self.timers, self.desk_status, owner, attempts, metrics, waiting_timeout
        )
        self.inbox = RasaInbox(
            store, connector, self.records, self.timers, rasa, owner, attempts, metrics, session_timeout,
            ending=self.outbox.ended,
        )
        self.timeouts = Timeouts(self.timers, self.records, self.outbox)
        self.desk_bot: Optional[DeskBot] = None
        if isinstance(connector, HostsTheBot) and connector.hosts_the_bot and rasa_url:
            self.desk_bot = DeskBot(store, connector, self.records.active, rasa_url, rasa_timeout, owner, attempts, metrics.parked)

    @property
    def rasa(self) -> Optional[RasaClient]:
        return self.inbox.rasa

    @rasa.setter
    def rasa(self, client: Optional[RasaClient]) -> None:
        self.inbox.rasa = client

    # -- lookups -------------------------------------------------------------------

    async def active(self, sender_id: str) -> Optional[Handoff]:
        return await self.records.active(sender_id)

    async def record(self, handoff_id: str) -> Optional[Handoff]:
        return await self.records.record(handoff_id)

    async def by_desk_conversation(self, desk_conversation_id: str) -> Optional[Handoff]:
        return await self.records.by_desk_conversation(desk_conversation_id)

    # -- user -> desk (the actions) ---------------------------------------------------

    async def open(
        self,
        sender_id: str,
        email: str,
        language: str,
        transcript: Sequence[Turn],
        latest_question: str,
        routing: Optional[str] = None,
        message_to_agent: Optional[str] = None,
        attributes: Optional[Mapping[str, str]] = None,
    ) -> Handoff:
        return await self.outbox.open(
            sender_id, email, language, transcript, latest_question, routing, message_to_agent, attributes
        )

    async def relay(self, handoff: Handoff, text: str, attachments: Sequence[Attachment] = ()) -> None:
        await self.outbox.relay(handoff, text, attachments)

    async def keep_waiting(self, handoff: Handoff) -> None:
        await self.timers.arm(handoff.handoff_id, handoff.sender_id, WAITING, self.outbox.waiting_timeout)

    async def finish(self, handoff: Handoff, reason: CloseReason) -> None:
        await self.outbox.finish(handoff, reason)

    # -- the desk's state ----------------------------------------------------------------

    async def status(self) -> Optional[ServiceStatus]:
        return await self.desk_status.status()

    async def set_status(self, status: ServiceStatus, reason: str = "") -> None:
        await self.desk_status.set(status, reason)

    async def check_status(self) -> None:
        await self.desk_status.check()

    async def agents_available(self, routing: Optional[str]) -> Optional[bool]:
        return await self.availability.agents_available(routing)

    # -- desk -> user (the sidecar) ----------------------------------------------------

    async def accept(self, event: DeskEvent) -> bool:
        """Queue a desk event where it goes, once; False when nothing of ours owns it."""
        if isinstance(event, UserWroteInDesk):
            if self.desk_bot is None:
                return False
            await self.desk_bot.queue(event)
            return True
        return await self.inbox.accept(event) is not None

    async def fire_due_timers(self) -> int:
        return await self.timeouts.fire_due()

    # Kept by name: the sidecar's benchmarks and tests drive one queue at a time.
    async def deliver_to_desk(self, queue: str) -> Drained:
        return await self.outbox.deliver(queue)

    async def deliver_to_rasa(self, queue: str) -> Drained:
        return await self.inbox.deliver(queue)

    async def answer_availability(self, queue: str) -> Drained:
        return await self.availability.answer(queue)

    def queues(self) -> list[tuple[str, DrainQueue]]:
        """Every queue prefix the sidecar's pump drains, with what drains it."""
        routes: list[tuple[str, DrainQueue]] = [
            (TO_RASA, self.deliver_to_rasa),
            (TO_DESK, self.deliver_to_desk),
            (ASK_AVAILABILITY, self.answer_availability),
        ]
        if self.desk_bot is not None:
            routes += [(BOT_IN, self.desk_bot.to_bot), (BOT_OUT, self.desk_bot.to_desk)]
        return routes

    async def aclose(self) -> None:
        if self.desk_bot is not None:
            await self.desk_bot.aclose()


__all__ = [
    "ASK_AVAILABILITY",
    "BOT_IN",
    "BOT_OUT",
    "Handoff",
    "HandoffService",
    "Metrics",
    "NO_METRICS",
    "TO_DESK",
    "TO_RASA",
]
