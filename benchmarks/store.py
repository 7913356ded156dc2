"""Store: timer tick, lookup and open at 1,000 / 10,000 / 100,000 live handoffs, against their goals.

In-process, on the store handoff.yml would name (sqlite file or Redis), with
a desk that does nothing, so what is timed is the engine and its store:

- tick: the sidecar's timer look, `fire_due_timers()` with nothing due, and
  `Timers.due()` on its own (goal: p50 < 10 ms);
- lookup: `active(sender_id)` of a live handoff, what the handoff loop does
  for every user message (goal: p99 < 1 ms);
- open: `HandoffService.open(...)` (goal: p50 < 2 ms).

Handoffs are opened through `HandoffService.open` while that reaches the
level within `--fill-budget` seconds; beyond, they are written straight
into the store in the layout the engine reads (see direct_fill.py, which
checks the engine recognises them first). Opens are always timed through
the service. There is no baseline: the figures are printed with the goals.

    python -m benchmarks.store [--store sqlite|redis] [--levels 1000,10000,100000] [--smoke]
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from benchmarks import direct_fill
from benchmarks.backends import Backend, StoreUnavailable, backend
from benchmarks.deploy import workdir
from benchmarks.measure import Report, Series, Stopwatch, command_line, number, rounds_of
from handoff_connectors.core.contract import (
    CloseReason, Connector, HandoffRequest, ServiceStatus, Speaker, Turn, UserMessage,
)
from handoff_connectors.core.handoffs import TO_DESK, HandoffService
from handoff_connectors.core.store import Store, open_store
from handoff_connectors.core.timers import Timers

TICK_GOAL, LOOKUP_GOAL, OPEN_GOAL = 0.010, 0.001, 0.002
# Nothing comes due during a run: a tick measures the look, not the firing.
WAITING = 7 * 24 * 3600.0
TRANSCRIPT = [Turn(Speaker.USER, "hello"), Turn(Speaker.BOT, "Hi! How can I help?")]


class NullDesk(Connector):
    """A desk that takes everything at once: the store benchmark times the engine, not HTTP."""

    name = "benchmark"

    async def start(self, request: HandoffRequest) -> str:
        return request.handoff_id

    async def send(self, desk_conversation_id: str, message: UserMessage) -> None:
        return None

    async def close(self, desk_conversation_id: str, reason: CloseReason) -> None:
        return None

    async def check(self) -> ServiceStatus:
        return ServiceStatus.AVAILABLE


@dataclass
class Population:
    """The live handoffs' senders, and how each level was reached."""

    senders: list[str] = field(default_factory=list)
    how: list[str] = field(default_factory=list)


def new_sender() -> str:
    return f"bench-{uuid.uuid4().hex[:12]}"


async def open_one(service: HandoffService, sender: str) -> None:
    await service.open(sender_id=sender, email="ana@example.com", language="en", transcript=TRANSCRIPT,
                       latest_question="I want to talk to a human")


async def fill_through_service(
    service: HandoffService, people: Population, target: int, budget: float, concurrency: int
) -> bool:
    """Open handoffs up to `target`, `concurrency` at a time; False (stopping early) once the rest would not fit in `budget` s."""
    clock = Stopwatch()
    while len(people.senders) < target:
        batch_clock, batch = Stopwatch(), [new_sender() for _ in range(min(64, target - len(people.senders)))]
        for start in range(0, len(batch), concurrency):
            await asyncio.gather(*(open_one(service, sender) for sender in batch[start:start + concurrency]))
        people.senders += batch
        rate = len(batch) / batch_clock.elapsed()
        if clock.elapsed() + (target - len(people.senders)) / rate > budget:
            return False
    return True


async def fill_directly(store: Store, people: Population, target: int) -> None:
    """Write the missing handoffs straight into the store, a thousand per batch."""
    while len(people.senders) < target:
        batch = [new_sender() for _ in range(min(1000, target - len(people.senders)))]
        await direct_fill.write(store, NullDesk.name, batch, WAITING)
        people.senders += batch


async def deliver_starts(service: HandoffService, store: Store) -> None:
    """Hand queued desk operations to the null desk, as a running sidecar would have (none with an inline engine)."""
    for queue in await store.queues(TO_DESK):
        await service.deliver_to_desk(queue)


async def fill(service: HandoffService, store: Store, people: Population, level: int, budget: float,
               concurrency: int) -> str:
    """Reach `level` live handoffs; how it was done, for the report (empty when it could not be)."""
    clock, before = Stopwatch(), len(people.senders)
    if await fill_through_service(service, people, level, budget, concurrency):
        how = "opened through HandoffService.open"
    elif await direct_fill.recognised(store, service, NullDesk.name, WAITING):
        opened = len(people.senders) - before
        await fill_directly(store, people, level)
        how = (f"{opened} opened through the service, then written straight into the store "
               "(opening all would not fit --fill-budget)")
    else:
        return ""
    await deliver_starts(service, store)
    added = len(people.senders) - before
    return f"{how}: {added} in {clock.elapsed():.1f} s ({number(added / max(clock.elapsed(), 1e-9))} /s)"


async def timed(samples: int, budget: float, operation: Callable[[], Awaitable[object]], series: Series) -> None:
    """Up to `samples` runs of `operation`, fewer when `budget` seconds run out (at least one)."""
    latencies, clock = [], Stopwatch()
    while len(latencies) < samples and (not latencies or clock.elapsed() < budget):
        started = time.perf_counter()
        await operation()
        latencies.append(time.perf_counter() - started)
    series.add(latencies, clock.elapsed())


@dataclass
class LevelFigures:
    """One level's four measurements, each over the rounds."""

    fire: Series = field(default_factory=Series)
    due: Series = field(default_factory=Series)
    lookup: Series = field(default_factory=Series)
    open: Series = field(default_factory=Series)


async def measure_level(service: HandoffService, people: Population, rounds: int, smoke: bool) -> LevelFigures:
    """Each round: ticks, lookups, then opens (which stay live and count toward the next level)."""
    figures, timers = LevelFigures(), Timers(service.store)
    pick = random.Random(7)
    for _ in range(rounds):
        await timed(3 if smoke else 20, 2.0, service.fire_due_timers, figures.fire)
        await timed(3 if smoke else 20, 2.0, timers.due, figures.due)
        await timed(200 if smoke else 2000, 5.0, lambda: service.active(pick.choice(people.senders)), figures.lookup)

        async def open_new() -> None:
            sender = new_sender()
            await open_one(service, sender)
            people.senders.append(sender)

        await timed(20 if smoke else 100, 5.0, open_new, figures.open)
    return figures


def report_level(report: Report, level: int, live: int, figures: LevelFigures) -> None:
    """Each figure against its goal, and how many samples stand behind it (budgets may cut them short)."""
    tag = f"{level:>7,}"
    report.goal(f"{tag} tick fire_due_timers()", figures.fire, "p50", TICK_GOAL)
    report.goal(f"{tag} tick Timers.due()", figures.due, "p50", TICK_GOAL)
    report.goal(f"{tag} lookup active()", figures.lookup, "p99", LOOKUP_GOAL)
    report.goal(f"{tag} open", figures.open, "p50", OPEN_GOAL)
    report.value(f"{tag} samples", f"tick {figures.fire.samples}+{figures.due.samples}, lookup {figures.lookup.samples}, "
                 f"open {figures.open.samples}; {live:,} live after the opens")


async def run(args, store_backend: Backend) -> None:
    """Level by level: fill, then measure; a level out of reach ends the run with the reason."""
    store = open_store(store_backend.settings())
    service = HandoffService(store, NullDesk(), waiting_timeout=WAITING, session_timeout=WAITING)
    people, rounds = Population(), rounds_of(args)
    levels = [int(level) for level in args.levels.split(",")] if args.levels else ([200] if args.smoke else [1000, 10000, 100000])
    report = Report("store: timer tick, lookup and open by live handoffs, against the goals",
                    f"{store_backend.description}; a desk that does nothing; {rounds} rounds per level; "
                    "median over rounds")
    try:
        for level in levels:
            how = await fill(service, store, people, level, args.fill_budget, args.fill_concurrency)
            if not how:
                report.value(f"{level:>7,} live", f"not reached: opening through the service would take over "
                             f"--fill-budget ({args.fill_budget:g} s) and this engine's store layout is not the one "
                             "direct_fill.py writes")
                break
            report.value(f"{level:>7,} live", how)
            figures = await measure_level(service, people, rounds, args.smoke)
            report_level(report, level, len(people.senders), figures)
        report.finish()
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    """Exit status 2, with the reason, when the store asked for is not available."""
    parser = command_line(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--levels", help="comma-separated live-handoff counts (default 1000,10000,100000; --smoke: 200)")
    parser.add_argument("--fill-budget", type=float, default=600.0,
                        help="seconds opening through the service may take per level before writing directly (default 600)")
    parser.add_argument("--fill-concurrency", type=int, default=1,
                        help="opens in flight while filling (default 1; more did not fill faster on either store)")
    args = parser.parse_args(argv)
    try:
        with workdir(args.keep) as work, backend(args.store, work) as store_backend:
            asyncio.run(run(args, store_backend))
    except StoreUnavailable as reason:
        print(f"store benchmark cannot run: {reason}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
