"""Whether the desk can take handoffs: its credentials' status, and agents' availability.

The status is what the last desk call (or credential check) said, kept in
the store so every process sees it. Availability is asked of the desk by the
sidecar only, and cached: an action never waits on a desk call.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Optional

from ..contract import Connector, ReportsAvailability, ServiceStatus
from ..outbox import Attempts, Drained, drain
from ..store import Change, Put, Store
from .metrics import Metrics

logger = logging.getLogger(__name__)

# Requests for the sidecar to ask the desk whether agents are there.
ASK_AVAILABILITY = "availability:"
# How long the sidecar's answer is used as it is; older, it is used while a fresh one is asked for.
AVAILABILITY_FRESH = 30.0
AVAILABILITY_USABLE = 600.0


def _status_key(connector: str) -> str:
    return f"status:{connector}"


def _availability_key(connector: str, routing: Optional[str]) -> str:
    return f"available:{connector}:{routing or ''}"


class DeskStatus:
    def __init__(self, store: Store, connector: Connector, metrics: Metrics) -> None:
        self.store = store
        self.connector = connector
        self.metrics = metrics
        self._last: Optional[ServiceStatus] = None

    async def status(self) -> Optional[ServiceStatus]:
        """What the last desk call said of the credentials (None before any)."""
        stored = await self.store.get(_status_key(self.connector.name))
        return ServiceStatus(stored["status"]) if stored else None

    async def set(self, status: ServiceStatus, reason: str = "") -> None:
        if status is self._last:
            return  # this process wrote it last: no store round trip per desk call
        previous = await self.status()
        self._last = status
        self.metrics.desk_status(self.connector.name, status.value)
        if previous == status:
            return
        if status is ServiceStatus.UNAVAILABLE:
            # Logged once per change, and only the desk's answer: never a credential.
            logger.error("%s is Unavailable: %s", self.connector.name, reason)
        elif status is ServiceStatus.AVAILABLE and previous is not None:
            logger.info("%s is Available again", self.connector.name)
        await self.store.put(_status_key(self.connector.name), {"status": status.value, "at": time.time()})

    async def check(self) -> None:
        """Run the connector's credential check and record what it says."""
        self._last = None  # another process may have changed it meanwhile
        await self.set(await self.connector.check(), "the credential check failed")


class Availability:
    """Whether agents are there: read by the actions, asked of the desk by the sidecar."""

    def __init__(self, store: Store, connector: Connector, owner: str, attempts: Attempts, metrics: Metrics) -> None:
        self.store = store
        self.connector = connector
        self._owner = owner
        self._attempts = attempts
        self._metrics = metrics

    async def agents_available(self, routing: Optional[str]) -> Optional[bool]:
        """Whether agents are there for `routing`, without calling the desk from here.

        The sidecar asks the desk and keeps the answer in the store. Until it
        has one (the first request for a routing), this is None: unknown, so
        the handoff goes ahead and the desk's own routing decides.
        """
        connector = self.connector
        if not isinstance(connector, ReportsAvailability):
            return None
        if connector.answers_from_store:
            return await connector.agents_available(routing)
        key = _availability_key(self.connector.name, routing)
        cached = await self.store.get(key)
        now = time.time()
        age = now - cached["at"] if cached else None
        if age is None or age > AVAILABILITY_FRESH:
            ask = {"id": uuid.uuid4().hex, "routing": routing}
            # Once per routing and freshness period, however many users ask meanwhile.
            once = f"{key}:{int(now // AVAILABILITY_FRESH)}"
            await self.store.push(ASK_AVAILABILITY + self.connector.name, ask, once=once)
        if age is None or age > AVAILABILITY_USABLE:
            return None
        return cached["available"]

    async def answer(self, queue: str) -> Drained:
        """The sidecar's side: ask the desk, keep what it says."""
        connector = self.connector

        async def ask(item: dict) -> list[Change]:
            available = await connector.agents_available(item.get("routing"))  # type: ignore[union-attr]
            answer = {"available": available, "at": time.time()}
            return [Put(_availability_key(connector.name, item.get("routing")), answer)]

        return await drain(self.store, queue, ask, self._owner, self._attempts, self._metrics.parked)
