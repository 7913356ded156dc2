"""Sidecar: agent webhooks delivered into Rasa by the real sidecar, against a bare forwarder.

The sidecar (a real process, webhook connector, real HTTP) takes the desk's
`POST /v1/human/message/receive`, queues it in the store and its pump pushes
it into a fast fake Rasa with trigger_intent, which acknowledges the event
the way the handoff loop does. The baseline is a bare Sanic handler that
forwards the same webhook to the same fake Rasa with httpx and answers: the
same web framework and HTTP client with no store, queue or retry in between.

Three loads, the two targets in alternating rounds:
- a flood: N webhooks as fast as 50 connections send them, spread over the
  live handoffs; accepted/s, delivered/s, what is still undelivered a few
  seconds after and how long until all was, what arrived out of order, what
  arrived twice (counted at the fake Rasa by event id, over the whole run),
  and the sidecar log's lines about held leases and locks;
- a steady 16 webhooks/s: delivery latency (webhook sent -> fake Rasa
  received) and each process's CPU;
- idle: each process's CPU over 10 s with the handoffs live and nothing sent.

    python -m benchmarks.sidecar [--store sqlite|redis] [--smoke]
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from benchmarks.backends import Backend, StoreUnavailable, backend
from benchmarks.deploy import (
    DESK_KEY, CpuMeter, LogWatch, SetupFailed, fake, fetch_json, sidecar, stop, url_of, workdir, write_config,
)
from benchmarks.loadgen import Connection, Pool, connect
from benchmarks.measure import (
    Report, Series, Stopwatch, command_line, interleave, median, number, pick, ratio, rounds_of,
)
from handoff_connectors.core.config import HandoffConfig
from handoff_connectors.core.contract import Speaker, Turn
from handoff_connectors.core.store import open_store
from handoff_connectors.rasa_runtime.processes import Service
from handoff_connectors.registry import create_service

RECEIVE_PATH = "/v1/human/message/receive"
HEADERS = {"Authorization": f"Bearer {DESK_KEY}", "Content-Type": "application/json"}
FLOOD_CONNECTIONS = 50
# How long a flood's backlog may take to go out before the next round starts anyway.
BACKLOG_WAIT = 120.0
# Log lines that say a lease or lock was waited for in vain.
LOCK_LINES = r"still held|\block"
ERROR_LINES = r" ERROR |Traceback"


@dataclass
class Target:
    """One receiver of the desk's webhooks: the sidecar or the bare forwarder."""

    name: str
    service: Service
    log: LogWatch
    cpu: CpuMeter

    @property
    def url(self) -> str:
        return url_of(self.service)


@dataclass
class Flood:
    """One flood round's counts."""

    tag: str
    sent: int
    accepted: int
    accepted_per_s: float
    delivered_per_s: float
    undelivered: int
    drained_after: float  # seconds from the flood's end until all was delivered (NaN: not within the wait)
    out_of_order: int
    lock_lines: int
    error_lines: int


@dataclass
class Side:
    """Everything measured for one target over the run."""

    target: Target
    floods: list[Flood] = field(default_factory=list)
    steady: Series = field(default_factory=Series)
    steady_cpu: list[float] = field(default_factory=list)


class Arrivals:
    """What the fake Rasa received, read incrementally between and after sends (never while timing)."""

    def __init__(self, rasa_url: str) -> None:
        self.url = f"{rasa_url}/_received"
        self.seen = fetch_json(self.url, since=0)["count"]
        self.everything: list[list] = []

    def new(self) -> list[list]:
        fresh = fetch_json(self.url, since=self.seen)["received"]
        self.seen += len(fresh)
        self.everything += fresh
        return fresh

    def tagged(self, tags: set[str]) -> list[list]:
        """Every arrival so far of the flood rounds with these tags."""
        return [record for record in self.everything if record[1] and record[1].split(" ")[1] in tags]


def webhook(conversation: str, text: str) -> bytes:
    """The desk's agent message, with a message id so redeliveries keep one event id."""
    return json.dumps(
        {"conversation_id": conversation, "timestamp": int(time.time() * 1000), "body": text, "message_id": text}
    ).encode()


async def collect(arrivals: Arrivals, texts: set[str], grace: float) -> tuple[list[list], float]:
    """This round's arrivals at the fake Rasa, waiting up to `grace` s for every text; and the wait."""
    clock, mine = Stopwatch(), []
    while True:
        mine += [record for record in arrivals.new() if record[1] in texts]
        if len({record[1] for record in mine}) >= len(texts) or clock.elapsed() > grace:
            return mine, clock.elapsed()
        await asyncio.sleep(0.1)


def duplicates(records: list[list]) -> int:
    """Event ids that reached Rasa more than once."""
    counts: dict[str, int] = defaultdict(int)
    for event_id, *_ in records:
        counts[event_id] += 1
    return sum(1 for count in counts.values() if count > 1)


def out_of_order(records: list[list], order: dict[str, int]) -> int:
    """Messages that reached their conversation before one sent earlier to it."""
    latest: dict[str, int] = {}
    late, seen = 0, set()
    for _, text, sender, _ in records:
        if text in seen:
            continue
        seen.add(text)
        if order[text] < latest.get(sender, -1):
            late += 1
        latest[sender] = max(order[text], latest.get(sender, -1))
    return late


@dataclass(frozen=True)
class Plan:
    """A flood's webhooks, per connection, and the order each was sent in."""

    tag: str
    per_connection: list[list[tuple[str, bytes]]]
    order: dict[str, int]


def plan(count: int, conversations: list[str]) -> Plan:
    """Message i goes to conversation i mod n; a conversation's messages all leave from one connection."""
    tag, order = uuid.uuid4().hex[:8], {}
    per_connection: list[list[tuple[str, bytes]]] = [[] for _ in range(FLOOD_CONNECTIONS)]
    for index in range(count):
        text = f"flood {tag} {index}"
        order[text] = index
        slot = index % len(conversations)
        per_connection[slot % FLOOD_CONNECTIONS].append((text, webhook(conversations[slot], text)))
    return Plan(tag, per_connection, order)


async def send_all(target: Target, flood_plan: Plan) -> tuple[list[str], float, float]:
    """Every connection sends its webhooks back to back; the accepted texts, the wall-clock start, the seconds taken."""
    connections = [connect(target.url) for _ in flood_plan.per_connection]
    for connection in connections:  # connected before the clock starts
        await connection.request("GET", "/health")
    accepted: list[str] = []

    async def send(connection: Connection, messages: list[tuple[str, bytes]]) -> None:
        for text, body in messages:
            if (await connection.request("POST", RECEIVE_PATH, body, HEADERS))[0] == 200:
                accepted.append(text)

    started_at, clock = time.time(), Stopwatch()
    await asyncio.gather(*(send(c, messages) for c, messages in zip(connections, flood_plan.per_connection)))
    sending = clock.elapsed()
    for connection in connections:
        connection.close()
    return accepted, started_at, sending


async def settle(arrivals: Arrivals, accepted: set[str], grace: float) -> tuple[list[list], set[str], float]:
    """Arrivals within `grace` s, what was still missing then, and when all was in (NaN: not within the backlog wait).

    A backlog goes out before the other target's round (untimed), so that it never shares the machine with it.
    """
    records, waited = await collect(arrivals, accepted, grace)
    missing = accepted - {record[1] for record in records}
    if not missing:
        return records, missing, waited
    backlog, more = await collect(arrivals, missing, BACKLOG_WAIT)
    drained = len({record[1] for record in backlog}) == len(missing)
    return records + backlog, missing, waited + more if drained else float("nan")


async def flood(target: Target, conversations: list[str], arrivals: Arrivals, count: int, grace: float) -> Flood:
    """`count` webhooks from 50 connections as fast as they go, and what became of them."""
    flood_plan = plan(count, conversations)
    target.log.restart()
    accepted, started_at, sending = await send_all(target, flood_plan)
    records, missing, drained_after = await settle(arrivals, set(accepted), grace)
    on_time = [record for record in records if record[1] not in missing]
    last = max((record[3] for record in on_time), default=started_at)
    delivered = len({record[1] for record in on_time})
    return Flood(
        tag=flood_plan.tag, sent=count, accepted=len(accepted), accepted_per_s=len(accepted) / sending,
        delivered_per_s=delivered / (last - started_at) if delivered else 0.0,
        undelivered=len(missing), drained_after=drained_after, out_of_order=out_of_order(records, flood_plan.order),
        lock_lines=target.log.matching(LOCK_LINES), error_lines=target.log.matching(ERROR_LINES),
    )


async def steady(target: Target, conversations: list[str], arrivals: Arrivals,
                 rate: float, seconds: float) -> tuple[list[float], float, float]:
    """`rate` webhooks a second for `seconds` s, on schedule whatever the answers; latencies, wall time, CPU %."""
    sent_at: dict[str, float] = {}
    tag, count = uuid.uuid4().hex[:8], int(rate * seconds)
    pool = Pool(target.url, 32)

    async def send(index: int) -> None:
        text = f"steady {tag} {index}"
        body = webhook(conversations[index % len(conversations)], text)
        sent_at[text] = time.time()
        await pool.post(RECEIVE_PATH, body, HEADERS)

    target.cpu.restart()
    clock, tasks = Stopwatch(), []
    for index in range(count):
        await asyncio.sleep(max(0.0, index / rate - clock.elapsed()))
        tasks.append(asyncio.create_task(send(index)))
    await asyncio.gather(*tasks)
    elapsed, cpu = clock.elapsed(), target.cpu.percent()
    pool.close()
    records, _ = await collect(arrivals, set(sent_at), grace=30)
    first: dict[str, float] = {}
    for _, text, _, arrived in records:
        first.setdefault(text, arrived)
    return [first[text] - sent_at[text] for text in first], elapsed, cpu


async def open_handoffs(config: HandoffConfig, count: int) -> dict[str, str]:
    """`count` live handoffs opened through HandoffService on the shared store: {desk conversation id: sender}."""
    service = create_service(config, open_store(config.store))
    opened: dict[str, str] = {}

    async def open_one(index: int) -> None:
        sender = f"bench-{uuid.uuid4().hex[:10]}"
        handoff = await service.open(
            sender_id=sender, email="ana@example.com", language="en",
            transcript=[Turn(Speaker.USER, "hello"), Turn(Speaker.BOT, "Hi! How can I help?")],
            latest_question="I want to talk to a human",
        )
        opened[handoff.desk_conversation_id or handoff.handoff_id] = sender

    try:
        for start in range(0, count, 20):
            await asyncio.gather(*(open_one(index) for index in range(start, min(count, start + 20))))
    finally:
        await service.connector.aclose()
        await service.store.close()
    return opened


async def wait_established(desk_url: str, count: int, timeout: float = 60) -> None:
    """Until the desk has every conversation (the sidecar may deliver the starts)."""
    clock = Stopwatch()
    while fetch_json(f"{desk_url}/_received")["counts"].get("establish", 0) < count:
        if clock.elapsed() > timeout:
            raise SetupFailed(f"the desk got fewer than {count} conversations within {timeout:.0f} s")
        await asyncio.sleep(0.2)


def idle_cpu(sides: list[Side], seconds: float) -> list[float]:
    """Each target's CPU over the same quiet stretch."""
    for side in sides:
        side.target.cpu.restart()
    time.sleep(seconds)
    return [side.target.cpu.percent() for side in sides]


def flood_round(side: Side, conversations, arrivals, count: int, grace: float) -> Callable:
    async def run() -> None:
        side.floods.append(await flood(side.target, conversations, arrivals, count, grace))
    return run


def steady_round(side: Side, conversations, arrivals, rate: float, seconds: float) -> Callable:
    async def run() -> None:
        latencies, elapsed, cpu = await steady(side.target, conversations, arrivals, rate, seconds)
        side.steady.add(latencies, elapsed)
        side.steady_cpu.append(cpu)
    return run


def drained(floods: list[Flood], limit: float) -> str:
    """How long the slowest round's backlog took to go out, or in how many it did not."""
    never = sum(1 for f in floods if math.isnan(f.drained_after))
    if never:
        return f"not within {limit:g} s of the flood in {never} of {len(floods)} rounds"
    return f"{max(f.drained_after for f in floods):.1f} s after the flood (worst round)"


def report_rates(report: Report, forwarder: Side, subject: Side) -> None:
    """Accepted/s and delivered/s of each side, medians over rounds, and the sidecar's ratio to the forwarder."""
    rates = {}
    for side in (forwarder, subject):
        accepted = median(f.accepted_per_s for f in side.floods)
        delivered = median(f.delivered_per_s for f in side.floods)
        rates[side.target.name] = (accepted, delivered)
        report.value(f"flood {side.target.name}",
                     f"accepted {number(accepted):>8} /s   delivered {number(delivered):>8} /s")
    (accepted_b, delivered_b), (accepted_s, delivered_s) = rates.values()
    report.value("flood ratio sidecar/forwarder", f"accepted {number(ratio(accepted_s, accepted_b), 2):>8} x    "
                 f"delivered {number(ratio(delivered_s, delivered_b), 2):>8} x")


def report_flood(report: Report, forwarder: Side, subject: Side, count: int, grace: float, twice: int) -> None:
    """Rates, then the sidecar's failures: the worst round of each, duplicates over the whole run."""
    report_rates(report, forwarder, subject)
    worst = subject.floods
    report.value(f"flood sidecar undelivered after {grace:g} s", f"{max(f.undelivered for f in worst)} of {count} (worst round)")
    report.value("flood sidecar all delivered", drained(worst, grace + BACKLOG_WAIT))
    report.value("flood sidecar delivered twice", f"{twice} events (whole run, by event id)")
    report.value("flood sidecar out of order", f"{max(f.out_of_order for f in worst)} (worst round)")
    report.value("flood sidecar log: lease/lock lines", f"{max(f.lock_lines for f in worst)} (worst round); "
                 f"ERROR/Traceback lines {max(f.error_lines for f in worst)}")
    refused = max(f.sent - f.accepted for f in worst)
    if refused:
        report.note(f"the sidecar refused up to {refused} webhooks of {count} in a round")


def report_steady(report: Report, forwarder: Side, subject: Side, rate: float) -> None:
    """Delivery latency of each side and the ratio; CPU of each process while it carried the load."""
    label = f"steady {rate:g}/s"
    report.figure(f"{label} {forwarder.target.name}", forwarder.steady)
    report.figure(f"{label} {subject.target.name}", subject.steady)
    report.ratio(f"{label} ratio sidecar/forwarder", subject.steady, forwarder.steady)
    cpu_subject, cpu_forwarder = median(subject.steady_cpu), median(forwarder.steady_cpu)
    report.value(f"{label} CPU", f"sidecar {number(cpu_subject)} %   forwarder {number(cpu_forwarder)} %   "
                 f"ratio {number(ratio(cpu_subject, cpu_forwarder), 2)} x")


async def measure(args, sides: list[Side], conversations: list[str], rasa_url: str, report: Report) -> None:
    """Floods, then steady loads, each warmed up and interleaved between the two targets."""
    forwarder, subject = sides
    rounds = rounds_of(args)
    count = int(pick(args, full=2000, smoke=200, given=args.flood))
    grace = pick(args, full=5.0, smoke=3.0, given=args.grace)
    rate, seconds = args.rate, pick(args, full=10.0, smoke=2.0, given=args.steady_seconds)
    arrivals = Arrivals(rasa_url)
    for side in sides:  # warm both up, untimed
        await flood(side.target, conversations, arrivals, min(count // 4, 200), grace)
    await interleave(rounds, [flood_round(side, conversations, arrivals, count, grace) for side in sides])
    await asyncio.sleep(2)  # a redelivery still on its way counts too
    arrivals.new()
    twice = duplicates(arrivals.tagged({f.tag for f in subject.floods}))
    report.value("flood", f"{count} webhooks from {FLOOD_CONNECTIONS} connections over {len(conversations)} "
                 "conversations; rates: median over rounds")
    report_flood(report, forwarder, subject, count, grace, twice)
    await interleave(rounds, [steady_round(side, conversations, arrivals, rate, seconds) for side in sides])
    report_steady(report, forwarder, subject, rate)
    report.finish()


async def deploy(args, store: Backend, work: Path, services: list[Service]) -> tuple[list[Side], list[str], str]:
    """Fakes, the sidecar and its handoffs, then the forwarder knowing the same conversations (all in `services`).

    Returns the two sides (forwarder first), the desk conversation ids and the fake Rasa's URL.
    """
    logs = work / "logs"
    desk, rasa = fake("desk", logs), fake("rasa", logs)
    services += [desk, rasa]
    config_path = work / "handoff.yml"
    config = write_config(config_path, url_of(desk), url_of(rasa), store.section)
    the_sidecar = sidecar(config_path, logs)
    services.append(the_sidecar)
    count = int(pick(args, full=200, smoke=50, given=args.handoffs))
    opened = await open_handoffs(config, count)
    await wait_established(url_of(desk), count)
    (work / "conversations.json").write_text(json.dumps(opened))
    forwarder = fake("forwarder", logs, "--rasa-url", url_of(rasa), "--api-key", DESK_KEY,
                     "--conversations", str(work / "conversations.json"))
    services.append(forwarder)
    sides = [Side(Target(name, service, LogWatch(service.log_path), CpuMeter(service.process.pid)))
             for name, service in (("bare forwarder", forwarder), ("sidecar", the_sidecar))]
    return sides, list(opened), url_of(rasa)


async def run(args, store: Backend, work: Path) -> None:
    """Deploy, take the idle CPU, then the loads; always tear down."""
    services: list[Service] = []
    try:
        sides, conversations, rasa_url = await deploy(args, store, work, services)
        report = Report(
            "sidecar: agent webhooks into a fake Rasa, the real sidecar vs a bare forwarder (same Sanic, same httpx)",
            f"{store.description}; {len(conversations)} live handoffs; {rounds_of(args)} interleaved rounds per side",
        )
        idle = pick(args, full=10.0, smoke=1.0, given=args.idle_seconds)
        forwarder_idle, sidecar_idle = idle_cpu(sides, idle)
        report.value(f"idle {idle:g} s CPU", f"sidecar {number(sidecar_idle)} %   forwarder {number(forwarder_idle)} %   "
                     f"({len(conversations)} live handoffs, nothing sent)")
        await measure(args, sides, conversations, rasa_url, report)
    finally:
        stop(services)


def main(argv: list[str] | None = None) -> int:
    """Exit status 2, with the reason, when the store or the deployment is not available."""
    parser = command_line(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--handoffs", type=int, help="live handoffs (default 200; --smoke: 50)")
    parser.add_argument("--flood", type=int, help="webhooks per flood round (default 2000; --smoke: 200)")
    parser.add_argument("--grace", type=float, help="seconds after a flood before counting undelivered (default 5)")
    parser.add_argument("--rate", type=float, default=16.0, help="steady load, webhooks per second (default 16)")
    parser.add_argument("--steady-seconds", type=float, help="length of a steady round (default 10; --smoke: 2)")
    parser.add_argument("--idle-seconds", type=float, help="idle CPU window (default 10; --smoke: 1)")
    args = parser.parse_args(argv)
    try:
        with workdir(args.keep) as work, backend(args.store, work) as store:
            asyncio.run(run(args, store, work))
    except (StoreUnavailable, SetupFailed, RuntimeError) as reason:
        print(f"sidecar benchmark cannot run: {reason}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
