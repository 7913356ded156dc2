"""Percentiles, rounds, the command line and the printed report every benchmark shares.

Baseline and subject run in alternating rounds (A, B, A, B, ...) so that a
machine that warms up, throttles or gets busy during the run weighs on both
alike. Each round is summarised by its p50, p99 and rate; a printed figure is
the median of those over the rounds, which one unlucky round cannot move.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable, Optional, Sequence

NAN = float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the two closest ranks (NaN when empty)."""
    if not values:
        return NAN
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Iterable[float]) -> float:
    """Median that ignores NaN (a round that measured nothing) and is NaN when nothing is left."""
    kept = [value for value in values if not math.isnan(value)]
    return statistics.median(kept) if kept else NAN


@dataclass(frozen=True)
class Round:
    """One round: each operation's latency (seconds) and the wall time the round took."""

    latencies: tuple[float, ...]
    elapsed: float

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    @property
    def rate(self) -> float:
        """Operations per second over the round's wall time."""
        return len(self.latencies) / self.elapsed if self.elapsed > 0 else NAN


@dataclass
class Series:
    """The rounds of one side of a comparison; its figures are medians over them."""

    rounds: list[Round] = field(default_factory=list)

    def add(self, latencies: Sequence[float], elapsed: float) -> Round:
        measured = Round(tuple(latencies), elapsed)
        self.rounds.append(measured)
        return measured

    @property
    def p50(self) -> float:
        return median(r.p50 for r in self.rounds)

    @property
    def p99(self) -> float:
        return median(r.p99 for r in self.rounds)

    @property
    def rate(self) -> float:
        return median(r.rate for r in self.rounds)

    @property
    def samples(self) -> int:
        return sum(len(r.latencies) for r in self.rounds)


async def interleave(rounds: int, sides: Sequence[Callable[[], Awaitable[None]]]) -> None:
    """Run each side once per round, in the given order: A, B, A, B, ..."""
    for _ in range(rounds):
        for run in sides:
            await run()


class Stopwatch:
    """Wall time since creation, from the monotonic clock (never the settable one)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def ratio(subject: float, baseline: float) -> float:
    if math.isnan(subject) or math.isnan(baseline) or baseline == 0:
        return NAN
    return subject / baseline


def _ms(seconds: float) -> str:
    return "     n/a" if math.isnan(seconds) else f"{seconds * 1000:8.2f}"


def _number(value: float, digits: int = 1) -> str:
    return "     n/a" if math.isnan(value) else f"{value:8.{digits}f}"


class Report:
    """The printed figures: one line per figure, label first, so people and the smoke test can read them."""

    def __init__(self, title: str, setup: str) -> None:
        print(f"\n{title}", flush=True)
        print(f"  ({setup})", flush=True)
        print(f"  (machine: {os.cpu_count()} cores, {_load()} when the figures below were taken)", flush=True)

    @staticmethod
    def finish() -> None:
        """The machine's load at the end: figures taken on a busy machine say so."""
        print(f"  (end of run: {_load()})", flush=True)

    @staticmethod
    def figure(label: str, series: Series, unit: str = "/s") -> None:
        print(
            f"  {label:<36} p50 {_ms(series.p50)} ms   p99 {_ms(series.p99)} ms   "
            f"{_number(series.rate)} {unit}",
            flush=True,
        )

    @staticmethod
    def ratio(label: str, subject: Series, baseline: Series) -> None:
        print(
            f"  {label:<36} p50 {_number(ratio(subject.p50, baseline.p50), 2)} x    "
            f"p99 {_number(ratio(subject.p99, baseline.p99), 2)} x    "
            f"{_number(ratio(subject.rate, baseline.rate), 2)} x",
            flush=True,
        )

    @staticmethod
    def value(label: str, text: str) -> None:
        print(f"  {label:<36} {text}", flush=True)

    @staticmethod
    def goal(label: str, series: Series, judged: str, goal_seconds: float) -> None:
        """p50 and p99 against a goal on one of them (`judged`: "p50" or "p99"): pass when under it."""
        value = getattr(series, judged)
        verdict = "n/a" if math.isnan(value) else ("pass" if value < goal_seconds else "MISS")
        print(
            f"  {label:<36} p50 {_ms(series.p50)} ms   p99 {_ms(series.p99)} ms   "
            f"goal {judged} < {goal_seconds * 1000:g} ms: {verdict}",
            flush=True,
        )

    @staticmethod
    def note(text: str) -> None:
        print(f"  note: {text}", flush=True)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def ms(seconds: float) -> str:
    """Milliseconds for prose lines."""
    return _ms(seconds).strip()


def number(value: float, digits: int = 1) -> str:
    return _number(value, digits).strip()


def command_line(description: str, rounds: int) -> argparse.ArgumentParser:
    """The options every benchmark takes; each adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="a short run (one round, small loads) to check it works")
    parser.add_argument("--rounds", type=int, default=None, help=f"rounds of each side (default {rounds}; --smoke: 1)")
    parser.add_argument(
        "--store", choices=("sqlite", "redis"), default="sqlite",
        help="the store the handoffs live in (redis: 127.0.0.1:6379 if it answers, else a redis-server of our own)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, store) and print its path")
    parser.set_defaults(default_rounds=rounds)
    return parser


def rounds_of(args: argparse.Namespace) -> int:
    if args.rounds is not None:
        return max(1, args.rounds)
    return 1 if args.smoke else args.default_rounds


def pick(args: argparse.Namespace, full: float, smoke: float, given: Optional[float] = None) -> float:
    """A load size: the option's value when given, else the smoke or full default."""
    if given is not None:
        return given
    return smoke if args.smoke else full
