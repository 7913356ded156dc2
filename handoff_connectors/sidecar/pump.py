"""The sidecar's delivery loop: drains every queue that still holds items.

Webhook handlers wake it at once; otherwise it looks every `poll_interval`
seconds, which is how messages held back by a Rasa or desk outage go out
once the other side is back. Each queue is drained by one task at a time,
and a queue that failed waits (0.5 s doubling, up to `max_retry_delay`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Optional, Sequence

from ..core.outbox import Backoff
from ..core.store import Store

logger = logging.getLogger(__name__)

# Drains one queue; True once it is empty.
DrainQueue = Callable[[str], Awaitable[bool]]
# Work to do before each look at the queues (firing timers); True if it queued something.
BeforeLook = Callable[[], Awaitable[int]]


class Pump:
    def __init__(
        self,
        store: Store,
        routes: Sequence[tuple[str, DrainQueue]],
        poll_interval: float,
        max_retry_delay: float,
        before_each_look: Optional[BeforeLook] = None,
    ) -> None:
        self._store = store
        self._routes = tuple(routes)
        self._poll_interval = poll_interval
        self._before_each_look = before_each_look
        self._backoff = Backoff(cap=max_retry_delay)
        self._running: dict[str, asyncio.Task] = {}
        self._wakeup = asyncio.Event()
        self._task: Optional[asyncio.Task] = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run_forever())

    def wake(self) -> None:
        self._wakeup.set()

    async def run_forever(self) -> None:
        while True:
            try:
                if self._before_each_look is not None and await self._before_each_look():
                    self._wakeup.set()
                for prefix, drain_queue in self._routes:
                    for queue in await self._store.queues(prefix):
                        if queue not in self._running and self._backoff.is_due(queue):
                            self._running[queue] = asyncio.create_task(self._drain(queue, drain_queue))
            except Exception:
                logger.exception("Could not read the queues; trying again")
            try:
                await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)
            except asyncio.TimeoutError:
                pass
            self._wakeup.clear()

    async def _drain(self, queue: str, drain_queue: DrainQueue) -> None:
        try:
            emptied = await drain_queue(queue)
        except Exception:
            logger.exception("Delivering %s failed", queue)
            emptied = False
        finally:
            self._running.pop(queue, None)
        if emptied:
            if self._backoff.failures(queue):
                logger.info("%s delivered after %d retries", queue, self._backoff.failures(queue))
            self._backoff.succeeded(queue)
            return
        delay = self._backoff.failed(queue)
        failures = self._backoff.failures(queue)
        if failures == 1 or failures % 10 == 0:
            logger.warning("%s is waiting (attempt %d); next try in %.1f s", queue, failures, delay)

    async def stop(self) -> None:
        tasks = [task for task in [self._task, *self._running.values()] if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
