"""Relay: a user message relayed by `handoff_loop` through a real rasa-sdk action server, against a no-op action.

While a handoff is active, Rasa POSTs every user message's tracker to the
action server's /webhook with `next_action: handoff_loop`. The baseline is
the very same POST (same tracker, same server) naming an action that does
nothing, so the ratio is what handoff's own work adds to a rasa-sdk round
trip. 200 handoffs are live (opened through the action itself), the desk is
a fast local fake, and a sidecar runs on the same store so that whatever the
action queues is really delivered: the run checks that every relayed message
reached the desk.

    python -m benchmarks.relay [--store sqlite|redis] [--smoke]
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from benchmarks import trackers
from benchmarks.backends import Backend, StoreUnavailable, backend
from benchmarks.bot import NOOP_ACTION
from benchmarks.deploy import SetupFailed, action_server, fake, fetch_json, sidecar, stop, url_of, workdir, write_config
from benchmarks.loadgen import Connection, Pool, connect
from benchmarks.measure import Report, Series, Stopwatch, command_line, interleave, number, pick, rounds_of
from handoff_connectors.rasa_runtime.processes import Service

LOOP = trackers.LOOP
CONCURRENCY = (1, 50)
EMAIL = "ana@example.com"
JSON = {"Content-Type": "application/json"}
# Seconds without a new delivery at the desk after which the final wait gives up.
STALL = 15.0


@dataclass
class Target:
    """The running action server and what the run has sent through it."""

    url: str
    pool: Pool
    senders: list[str]
    domain: dict[str, Any]
    relayed: int = 0
    failures: list[str] = field(default_factory=list)


async def post(target: Target, connection: Connection, body: bytes) -> float:
    """One /webhook call; its latency in seconds (failures are noted and return NaN)."""
    started = time.perf_counter()
    status, answer = await connection.request("POST", "/webhook", body, JSON)
    latency = time.perf_counter() - started
    if status != 200:
        target.failures.append(f"{status}: {answer[:200].decode(errors='replace')}")
        return float("nan")
    return latency


async def open_handoffs(target: Target, count: int) -> None:
    """Open `count` handoffs the way Rasa does: handoff_loop on a request whose metadata has the email."""
    async def open_one(sender: str) -> None:
        tracker = trackers.asking(sender, target.domain, EMAIL)
        status, answer = await target.pool.post("/webhook", trackers.webhook_body(LOOP, tracker, target.domain), JSON)
        events = json.loads(answer).get("events", []) if status == 200 else []
        if not any(e.get("event") == "slot" and e.get("value") == "connected" for e in events):
            raise SetupFailed(f"opening a handoff for {sender} answered {status}: {answer[:300]!r}")

    for start in range(0, count, 20):
        await asyncio.gather(*(open_one(sender) for sender in target.senders[start:start + 20]))


def bodies_for(target: Target, action: str, concurrency: int, requests: int) -> list[list[bytes]]:
    """Each worker's requests, built before timing: worker k talks to its own conversations only,
    as Rasa never runs two actions of one conversation at once."""
    per_worker = max(1, requests // concurrency)
    work: list[list[bytes]] = []
    for worker in range(concurrency):
        own = target.senders[worker::concurrency]
        work.append([
            trackers.webhook_body(
                action,
                trackers.connected(own[i % len(own)], target.domain, EMAIL, f"benchmark message {uuid.uuid4().hex[:16]}"),
                target.domain,
            )
            for i in range(per_worker)
        ])
    return work


async def timed_round(target: Target, work: list[list[bytes]]) -> tuple[list[float], float]:
    """All workers at once, each sending its requests one after the other."""
    async def worker(bodies: list[bytes], connection: Connection) -> list[float]:
        return [await post(target, connection, body) for body in bodies]

    connections = [connect(target.url) for _ in work]
    for connection in connections:  # connect before the clock starts
        await connection.request("GET", "/health")

    clock = Stopwatch()
    results = await asyncio.gather(*(worker(bodies, connection) for bodies, connection in zip(work, connections)))
    elapsed = clock.elapsed()
    for connection in connections:
        connection.close()
    return [latency for result in results for latency in result if not math.isnan(latency)], elapsed


def side(target: Target, series: Series, action: str, concurrency: int, requests: int) -> Callable:
    """One side of the comparison as a round to run: build the requests, then time them."""
    async def run() -> None:
        work = bodies_for(target, action, concurrency, requests)
        latencies, elapsed = await timed_round(target, work)
        series.add(latencies, elapsed)
        if action == LOOP:
            target.relayed += sum(len(bodies) for bodies in work)

    return run


@dataclass(frozen=True)
class Delivery:
    """What the desk got of the relayed messages once the wait ended."""

    distinct: int
    twice: int
    waited: float
    complete: bool
    backlog: int  # not yet at the desk when the last relay was answered


async def wait_delivered(desk_url: str, expected: int) -> Delivery:
    """Wait for every relayed message at the desk while deliveries keep coming; give up after a 15 s stall."""
    clock, count, changed, backlog = Stopwatch(), -1, 0.0, None
    while True:
        seen = fetch_json(f"{desk_url}/_received")
        backlog = expected - seen["chat_texts"] if backlog is None else backlog
        if seen["chat_texts"] != count:
            count, changed = seen["chat_texts"], clock.elapsed()
        if count >= expected or clock.elapsed() - changed > STALL:
            return Delivery(count, seen["chat_texts_twice"], clock.elapsed(), count >= expected, backlog)
        await asyncio.sleep(0.2)


def report_delivery(report: Report, delivery: Delivery, relayed: int) -> None:
    when = (f"all {delivery.waited:.1f} s after the last relay" if delivery.complete
            else f"then none for {STALL:g} s; stopped waiting {delivery.waited:.1f} s after the last relay")
    report.value("delivered to the desk", f"{delivery.distinct} of {relayed} relayed messages, {when}")
    if delivery.backlog > 0 and delivery.complete:
        drained = delivery.backlog / max(delivery.waited, 1e-9)
        report.value("desk backlog after the last relay", f"{delivery.backlog} messages, delivered at {number(drained)} /s")
    report.value("delivered to the desk twice", f"{delivery.twice} messages")


async def measure(args, target: Target, desk_url: str, report: Report) -> None:
    """Both concurrency levels, each warmed up and then interleaved, then the desk's count of what arrived."""
    rounds = rounds_of(args)
    for concurrency in CONCURRENCY:
        requests = int(pick(args, full=300 if concurrency == 1 else 1500, smoke=20 if concurrency == 1 else 100))
        noop, relay = Series(), Series()
        # One untimed pass of each first: connections, imports and caches warm for both alike.
        await side(target, Series(), NOOP_ACTION, concurrency, min(requests, 100))()
        await side(target, Series(), LOOP, concurrency, min(requests, 100))()
        await interleave(rounds, [side(target, noop, NOOP_ACTION, concurrency, requests),
                                  side(target, relay, LOOP, concurrency, requests)])
        label = f"c={concurrency}"
        report.figure(f"{label:<5} no-op action", noop)
        report.figure(f"{label:<5} handoff_loop relay", relay)
        report.ratio(f"{label:<5} ratio relay/no-op", relay, noop)
    report_delivery(report, await wait_delivered(desk_url, target.relayed), target.relayed)
    report.value("failed requests", str(len(target.failures)) + (f" (first: {target.failures[0]})" if target.failures else ""))
    report.finish()


def deploy(store: Backend, work: Path, services: list[Service]) -> tuple[str, str]:
    """The fake desk, a sidecar and the action server on one handoff.yml (all in `services`); desk and action URLs."""
    logs = work / "logs"
    desk = fake("desk", logs)
    services.append(desk)
    config = work / "handoff.yml"
    # Nothing in this benchmark goes to Rasa: its URL is a closed port.
    write_config(config, url_of(desk), "http://127.0.0.1:9", store.section)
    services.append(sidecar(config, logs))
    services.append(action_server(config, logs))
    return url_of(desk), url_of(services[-1])


async def run(args, store: Backend, work: Path) -> None:
    """Deploy, open the handoffs through the action, measure; always tear down."""
    services: list[Service] = []
    try:
        desk_url, actions_url = deploy(store, work, services)
        handoffs = int(pick(args, full=200, smoke=50, given=args.handoffs))
        senders = [f"bench-{uuid.uuid4().hex[:10]}" for _ in range(handoffs)]
        target = Target(actions_url, Pool(actions_url, 20), senders, trackers.handoff_domain())
        try:
            await open_handoffs(target, handoffs)
            report = Report(
                "relay: a user message through handoff_loop vs a no-op action (real rasa-sdk action server, HTTP)",
                f"{store.description}; {handoffs} live handoffs; {rounds_of(args)} interleaved rounds per side; "
                "median over rounds",
            )
            await measure(args, target, desk_url, report)
        finally:
            target.pool.close()
    finally:
        stop(services)


def main(argv: list[str] | None = None) -> int:
    """Exit status 2, with the reason, when the store or the deployment is not available."""
    parser = command_line(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--handoffs", type=int, help="live handoffs (default 200; --smoke: 50)")
    args = parser.parse_args(argv)
    try:
        with workdir(args.keep) as work, backend(args.store, work) as store:
            asyncio.run(run(args, store, work))
    except (StoreUnavailable, SetupFailed, RuntimeError) as reason:
        print(f"relay benchmark cannot run: {reason}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
