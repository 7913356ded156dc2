"""The sidecar's delivery loop: drains every queue that holds items.

A push anywhere (a webhook here, an action in the action server, another
sidecar) names its queue to the store's listeners, and the pump starts
draining that queue at once: the first delivery attempt follows the push by
milliseconds. Every `poll_interval` it also fires due timers and looks at
all non-empty queues, which is how items held back by an outage (or a
wake-up that got lost) go out once the other side is back.

Each queue is drained by one task at a time; a push that arrives while its
queue drains is picked up by that drain or, if it just finished, by an
immediate second one. A queue whose head must wait is retried after 0.5 s
doubling up to `max_retry_delay`; one that another process holds is looked
at again shortly, since its lease is short-lived.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Optional, Sequence

from .outbox import LEASE_SECONDS, Backoff, Drained
from .store import Store

logger = logging.getLogger(__name__)

# Drains one queue.
DrainQueue = Callable[[str], Awaitable[Drained]]
# Periodic work before each look at the queues (firing timers).
BeforeLook = Callable[[], Awaitable[int]]

# How soon to look again at a queue another process is draining.
BUSY_RECHECK = 0.5
# Queues delivered at the same time. A backlog of a thousand queues (after an
# outage) started all at once starves the event loop and the HTTP clients'
# pools, and nothing gets through: the rest wait their turn instead.
MAX_CONCURRENT = 32
# On a graceful stop, how long running deliveries get to finish. Cutting a
# push to Rasa short cancels Rasa's save of the tracker after it already sent
# the message, so the retry would show it twice: better to let it end.
STOP_GRACE = 10.0


class Pump:
    def __init__(
        self,
        store: Store,
        routes: Sequence[tuple[str, DrainQueue]],
        poll_interval: float,
        max_retry_delay: float,
        before_each_look: Optional[BeforeLook] = None,
        max_concurrent: int = MAX_CONCURRENT,
    ) -> None:
        self._store = store
        self._routes = tuple(routes)
        self._poll_interval = poll_interval
        self._before_each_look = before_each_look
        self._backoff = Backoff(cap=max_retry_delay)
        self._running: dict[str, asyncio.Task] = {}
        self._again: set[str] = set()
        self._busy_since: dict[str, float] = {}
        self._task: Optional[asyncio.Task] = None
        self._stopping = False
        self._slots = asyncio.Semaphore(max_concurrent)

    def start(self) -> None:
        self._store.listen(self.pushed)
        self._task = asyncio.get_running_loop().create_task(self.run_forever())

    def pushed(self, queue: str) -> None:
        """`queue` just got an item: drain it now, or once its running drain ends."""
        drain_queue = self._route(queue)
        if drain_queue is None:
            return
        if queue in self._running:
            self._again.add(queue)
        elif self._backoff.is_due(queue):
            self._start(queue, drain_queue)

    def _route(self, queue: str) -> Optional[DrainQueue]:
        for prefix, drain_queue in self._routes:
            if queue.startswith(prefix):
                return drain_queue
        return None

    def _start(self, queue: str, drain_queue: DrainQueue) -> None:
        if self._stopping:
            return
        self._running[queue] = asyncio.get_running_loop().create_task(self._drain(queue, drain_queue))

    async def run_forever(self) -> None:
        while True:
            await self._look()
            await asyncio.sleep(self._poll_interval)

    async def _look(self) -> None:
        try:
            if self._before_each_look is not None:
                await self._before_each_look()
        except Exception:
            logger.exception("Firing due timers failed; trying again")
        for prefix, drain_queue in self._routes:
            try:
                names = await self._store.queues(prefix)
            except Exception:
                logger.exception("Could not list the %s queues; trying again", prefix)
                continue
            for queue in names:
                if queue not in self._running and self._backoff.is_due(queue):
                    self._start(queue, drain_queue)

    async def _drain(self, queue: str, drain_queue: DrainQueue) -> None:
        try:
            async with self._slots:
                outcome = await drain_queue(queue)
        except Exception:
            logger.exception("Delivering %s failed", queue)
            outcome = Drained.WAITING
        finally:
            self._running.pop(queue, None)
        self._after(queue, outcome)
        if queue in self._again:
            self._again.discard(queue)
            if self._backoff.is_due(queue):
                self._start(queue, drain_queue)

    def _after(self, queue: str, outcome: Drained) -> None:
        if outcome is Drained.EMPTY:
            if self._backoff.failures(queue):
                logger.info("%s delivered after %d retries", queue, self._backoff.failures(queue))
            self._backoff.succeeded(queue)
            self._busy_since.pop(queue, None)
        elif outcome is Drained.BUSY:
            self._note_busy(queue)
        else:
            self._busy_since.pop(queue, None)
            delay = self._backoff.failed(queue)
            failures = self._backoff.failures(queue)
            if failures == 1 or failures % 10 == 0:
                logger.warning("%s is waiting (attempt %d); next try in %.1f s", queue, failures, delay)

    def _note_busy(self, queue: str) -> None:
        # Normal with several sidecars (each hears every push): said only when it lasts.
        loop = asyncio.get_running_loop()
        since = self._busy_since.setdefault(queue, loop.time())
        held = loop.time() - since
        if held > 2 * LEASE_SECONDS:
            logger.warning(
                "%s has been held by another process for %.0f s (one that died lets go within %.0f s)",
                queue, held, LEASE_SECONDS,
            )
            self._busy_since[queue] = loop.time()
        self._backoff.postpone(queue, BUSY_RECHECK)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Start nothing new, let running deliveries finish (up to `grace` s), then cancel."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
        running = list(self._running.values())
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            if late:
                logger.warning("Stopping with %d deliveries still running; they are retried at the next start", len(late))
        tasks = [task for task in [self._task, *self._running.values()] if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
