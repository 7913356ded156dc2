"""Event sources run by the sidecar: the desks read from streams or polls.

Some desks never call us: Salesforce sends agent messages only over a
server-sent-event stream per conversation, others are polled. A connector
that `HasEventSources` names its sources (for the whole app, and one per
live conversation); this runner keeps each running:

- exactly one sidecar runs a source at a time (a lease in the store,
  renewed while it runs; a sidecar that died lets go within seconds);
- each batch's events are queued (once, by id) before its cursor is saved,
  so a restart or a dropped stream resumes from the cursor and nothing is
  lost; an event read twice is queued once;
- a source that fails is restarted after a pause doubling up to a cap; one
  whose handoff ended is stopped.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Awaitable, Callable, Optional

from .contract import DeskEvent, EventSource, HasEventSources
from .handoffs.records import Records
from .outbox import LEASE_SECONDS, RENEW_SECONDS
from .store import Store

logger = logging.getLogger(__name__)

Accept = Callable[[DeskEvent], Awaitable[bool]]


def cursor_key(connector: str, source: str) -> str:
    return f"cursor:{connector}:{source}"


class SourceRunner:
    def __init__(
        self,
        store: Store,
        connector: HasEventSources,
        records: Records,
        accept: Accept,
        look_interval: float = 1.0,
        max_retry_delay: float = 30.0,
    ) -> None:
        self._store = store
        self._connector = connector
        self._name: str = connector.name  # type: ignore[attr-defined]
        self._records = records
        self._accept = accept
        self._look_interval = look_interval
        self._max_retry_delay = max_retry_delay
        self._running: dict[str, asyncio.Task] = {}
        self._task: Optional[asyncio.Task] = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._keep_running())

    async def _keep_running(self) -> None:
        while True:
            try:
                await self._look()
            except Exception:
                logger.exception("Could not look at the %s event sources; trying again", self._name)
            await asyncio.sleep(self._look_interval)

    async def _look(self) -> None:
        wanted = {source.key: source for source in self._connector.event_sources()}
        for live in await self._records.live():
            source = self._connector.conversation_source(live["desk_conversation_id"])
            if source is not None:
                wanted[source.key] = source
        for key in list(self._running):
            if key not in wanted or self._running[key].done():
                self._running.pop(key).cancel()
        for key, source in wanted.items():
            if key not in self._running:
                self._running[key] = asyncio.get_running_loop().create_task(self._run(source))

    async def _run(self, source: EventSource) -> None:
        """Hold the source's lease and read it, for as long as it is wanted."""
        owner, lease = uuid.uuid4().hex, f"lease:source:{self._name}:{source.key}"
        failures = 0
        while True:
            if not await self._store.acquire(lease, owner, LEASE_SECONDS):
                await asyncio.sleep(RENEW_SECONDS)  # another sidecar runs it
                continue
            try:
                await self._read_while_held(source, lease, owner)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                delay = min(self._max_retry_delay, 0.5 * 2 ** (failures - 1))
                logger.warning("%s source %s failed (%s); restarting in %.1f s", self._name, source.key, error, delay)
                await asyncio.sleep(delay)
            finally:
                await self._release(lease, owner)
            # A source that ended (a poll) is read again from its cursor, after a pause.
            await asyncio.sleep(self._look_interval)

    async def _read_while_held(self, source: EventSource, lease: str, owner: str) -> None:
        """Read until the source ends or fails, or the lease is lost to another sidecar."""
        loop = asyncio.get_running_loop()
        reading = loop.create_task(self._read(source))
        renewing = loop.create_task(self._renew(lease, owner))
        try:
            await asyncio.wait({reading, renewing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reading, renewing):
                task.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
        if reading.done() and not reading.cancelled():
            reading.result()  # raises what the source raised

    async def _read(self, source: EventSource) -> None:
        key = cursor_key(self._name, source.key)
        stored = await self._store.get(key)
        cursor = stored.get("cursor") if stored else None
        async for batch in source.read(cursor):
            for event in batch.events:
                await self._accept(event)
            if batch.cursor is not None and batch.cursor != cursor:
                cursor = batch.cursor
                await self._store.put(key, {"cursor": cursor})

    async def _renew(self, lease: str, owner: str) -> None:
        """Renew the lease while reading; return when another sidecar holds it."""
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                if not await self._store.acquire(lease, owner, LEASE_SECONDS):
                    logger.warning("Lost %s to another sidecar", lease)
                    return
            except Exception:
                logger.warning("Could not renew %s; trying again", lease, exc_info=True)

    async def _release(self, lease: str, owner: str) -> None:
        try:
            await self._store.release(lease, owner)
        except Exception:
            logger.warning("Could not release %s; it lapses within %.0f s", lease, LEASE_SECONDS)

    async def stop(self) -> None:
        tasks = [task for task in [self._task, *self._running.values()] if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()
