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
from typing import Awaitable, Callable, Optional

from ..contract import Connector, DeskEvent, HostsTheBot, UserWroteInDesk
from ..desk_bot import BOT_IN, BOT_OUT, DeskBot
from ..outbox import Attempts, Drained, new_owner
from ..rasa import RasaClient
from ..store import Store
from ..timers import Timers
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
        # The service's verbs are its jobs' own methods, under the names the actions and the sidecar use.
        self.active = self.records.active
        self.record = self.records.record
        self.by_desk_conversation = self.records.by_desk_conversation
        self.open = self.outbox.open
        self.relay = self.outbox.relay
        self.keep_waiting = self.outbox.keep_waiting
        self.finish = self.outbox.finish
        self.status = self.desk_status.status
        self.set_status = self.desk_status.set
        self.check_status = self.desk_status.check
        self.agents_available = self.availability.agents_available
        self.fire_due_timers = self.timeouts.fire_due
        # The sidecar's pump, its benchmarks and tests drive one queue at a time.
        self.deliver_to_desk = self.outbox.deliver
        self.deliver_to_rasa = self.inbox.deliver
        self.answer_availability = self.availability.answer

    @property
    def rasa(self) -> Optional[RasaClient]:
        return self.inbox.rasa

    @rasa.setter
    def rasa(self, client: Optional[RasaClient]) -> None:
        self.inbox.rasa = client

    # -- desk -> user (the sidecar) ----------------------------------------------------

    async def accept(self, event: DeskEvent) -> bool:
        """Queue a desk event where it goes, once; False when nothing of ours owns it."""
        if isinstance(event, UserWroteInDesk):
            if self.desk_bot is None:
                return False
            await self.desk_bot.queue(event)
            return True
        return await self.inbox.accept(event) is not None

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
