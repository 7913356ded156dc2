"""The sidecar's delivery loop: drains every queue that still holds items.

Webhook handlers wake it at once; otherwise it looks every `poll_interval`
seconds, which is how messages held back by a Rasa or desk outage go out
once the other side is back. Each queue is drained by one task at a time,
and a queue that failed waits (0.5 s doubling, up to `max_retry_delay`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from ..core.handoffs import TO_DESK, TO_RASA, HandoffService
from ..core.outbox import Backoff

logger = logging.getLogger(__name__)


class Pump:
    def __init__(self, service: HandoffService, poll_interval: float, max_retry_delay: float) -> None:
        self._service = service
        self._poll_interval = poll_interval
        self._backoff = Backoff(cap=max_retry_delay)
        self._running: dict[str, asyncio.Task] = {}
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        self._wakeup.set()

    async def run_forever(self) -> None:
        routes: tuple[tuple[str, Callable[[str], Awaitable[bool]]], ...] = (
            (TO_RASA, self._service.deliver_to_rasa),
            (TO_DESK, self._service.deliver_to_desk),
        )
        while True:
            try:
                if await self._service.fire_due_timers():
                    self._wakeup.set()
                for prefix, deliver in routes:
                    for queue in await self._service.store.queues(prefix):
                        if queue not in self._running and self._backoff.is_due(queue):
                            self._running[queue] = asyncio.create_task(self._drain(queue, deliver))
            except Exception:
                logger.exception("Could not read the outboxes; trying again")
            try:
                await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)
            except asyncio.TimeoutError:
                pass
            self._wakeup.clear()

    async def _drain(self, queue: str, deliver: Callable[[str], Awaitable[bool]]) -> None:
        try:
            emptied = await deliver(queue)
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
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
