"""Prometheus metrics of one sidecar (or action server), in its own registry.

Why a `Metrics` object and not module-level metrics: prometheus_client's
default registry is global to the process, so two sidecars in one process
(the tests, an app embedding two) would clash on metric names or add up each
other's counts. Each `Metrics` owns a `CollectorRegistry`, and `render()`
serves exactly what that object counted.

Why the labels are checked: every distinct label value is a time series kept
forever by Prometheus. Directions, error kinds, statuses and queue kinds come
from fixed vocabularies; desks and end reasons must be short identifiers.
Anything else is counted as "other", never as itself, so an id can never
become a label by mistake. No method takes a conversation, handoff or sender
id at all.

Why queue depth is read at scrape time: the queues live in the store, shared
by every process of a deployment; counting them here as items come and go
would be wrong as soon as two processes deliver. The engine gives a
synchronous snapshot function instead (`set_depth_source`), called each time
Prometheus scrapes.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import re
from typing import Awaitable, Callable, Iterable, Literal, Mapping, Optional, Sequence, Union

import httpx
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

PREFIX = "rasa_handoff"
OTHER = "other"

QueueDirection = Literal["to_desk", "to_rasa"]
MessageDirection = Literal["user_to_agent", "agent_to_user"]
DeskErrorKind = Literal["auth", "retryable", "refused", "timeout"]

QUEUE_DIRECTIONS: tuple[str, ...] = ("to_desk", "to_rasa")
MESSAGE_DIRECTIONS: tuple[str, ...] = ("user_to_agent", "agent_to_user")
DESK_ERROR_KINDS: tuple[str, ...] = ("auth", "retryable", "refused", "timeout")
DESK_STATUSES: tuple[str, ...] = ("available", "unavailable", "not_configured")
# The prefixes of the store's queue names: `to_desk:<handoff>`, `to_rasa:<sender>`, `dead:<queue>`.
QUEUE_KINDS: tuple[str, ...] = ("to_desk", "to_rasa", "dead")

# One desk or Rasa call: a millisecond on loopback to a slow desk's 30 s timeout.
DELIVERY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Queued to delivered: instant when all is well, up to an hour through an outage.
QUEUE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
# Handoff opened to the first agent message the user saw: seconds to an hour.
FIRST_REPLY_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)

Label = Union[str, enum.Enum, None]
# Item counts keyed by queue name or queue kind; summed per kind at scrape time.
DepthSource = Callable[[], Mapping[str, int]]

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _text(value: Label) -> str:
    raw = value.value if isinstance(value, enum.Enum) else value
    return str(raw or "").strip().lower().replace(" ", "_")


def _one_of(value: Label, allowed: Sequence[str]) -> str:
    text = _text(value)
    return text if text in allowed else OTHER


def _identifier(value: Label) -> str:
    text = _text(value)
    return text if _IDENTIFIER.fullmatch(text) else OTHER


def _seconds(value: float) -> Optional[float]:
    """Durations measured across processes can come out slightly negative; NaN is dropped."""
    if math.isnan(value):
        return None
    return max(0.0, value)


def queue_kind(queue: str) -> str:
    """`to_desk:abc` -> `to_desk`; `dead:to_rasa:x` -> `dead`; an unknown prefix -> `other`."""
    return _one_of(queue.split(":", 1)[0], QUEUE_KINDS)


def _caused_by_timeout(error: BaseException) -> bool:
    seen: Optional[BaseException] = error
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, (TimeoutError, asyncio.TimeoutError, httpx.TimeoutException)):
            return True
        # `raise DeskError(...) from None` still keeps the original as __context__.
        seen = seen.__cause__ or seen.__context__
    return False


def classify_desk_error(error: BaseException) -> DeskErrorKind:
    """The `kind` label for a DeskError: auth, timeout, retryable or refused."""
    if getattr(error, "auth", False):
        return "auth"
    if _caused_by_timeout(error):
        return "timeout"
    if getattr(error, "retryable", False):
        return "retryable"
    return "refused"


class _QueueDepthCollector(Collector):
    """Queue depth and parked items, read from the engine's snapshot at each scrape."""

    def __init__(self) -> None:
        self.source: Optional[DepthSource] = None

    def collect(self) -> Iterable[Metric]:
        depths = self._read()
        if depths is None:
            return []
        depth = GaugeMetricFamily(
            f"{PREFIX}_queue_depth", "Items waiting in the store's queues, by queue kind.", labels=["queue_kind"]
        )
        for kind, count in sorted(depths.items()):
            depth.add_metric([kind], count)
        parked = GaugeMetricFamily(
            f"{PREFIX}_parked_items", "Items parked in dead-letter queues (refused for good; need a look).",
            value=depths["dead"],
        )
        return [depth, parked]

    def _read(self) -> Optional[dict[str, int]]:
        if self.source is None:
            return None
        try:
            raw = self.source()
        except Exception as error:
            # A scrape must still answer; the depth series are absent this time.
            logger.warning("Could not read the queue depths for /metrics: %s", type(error).__name__)
            return None
        totals = dict.fromkeys(QUEUE_KINDS, 0)
        for queue, count in raw.items():
            kind = queue_kind(queue)
            totals[kind] = totals.get(kind, 0) + int(count)
        return totals


class DepthSnapshot:
    """The last queue depths read from the (async) store, for the (sync) depth source.

        depths = DepthSnapshot(store.depths)
        metrics.set_depth_source(depths)
        attach_observability(app, metrics, checks, before_scrape=depths.refresh)
    """

    def __init__(self, read: Callable[[], Awaitable[Mapping[str, int]]]) -> None:
        self._read = read
        self._last: dict[str, int] = {}

    async def refresh(self) -> None:
        self._last = dict(await self._read())

    def __call__(self) -> Mapping[str, int]:
        return self._last


class Metrics:
    """The delivery engine's metrics; one per sidecar or action server."""

    def __init__(self, process_metrics: bool = True) -> None:
        self.registry = CollectorRegistry()
        self._define_counters()
        self._define_histograms()
        self._desk_status = Gauge(
            f"{PREFIX}_desk_status", "1 for the desk's current status, 0 for the others.",
            ["desk", "status"], registry=self.registry,
        )
        self._queues = _QueueDepthCollector()
        self.registry.register(self._queues)
        if process_metrics:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)

    def _define_counters(self) -> None:
        registry = self.registry
        self._started = Counter(
            f"{PREFIX}_handoffs_started", "Handoffs opened, by desk.", ["desk"], registry=registry
        )
        self._ended = Counter(
            f"{PREFIX}_handoffs_ended", "Handoffs ended, by desk and reason.", ["desk", "reason"], registry=registry
        )
        self._messages = Counter(
            f"{PREFIX}_messages", "Messages delivered, by direction and desk.", ["direction", "desk"],
            registry=registry,
        )
        self._desk_errors = Counter(
            f"{PREFIX}_desk_errors", "Failed desk calls, by desk and kind.", ["desk", "kind"], registry=registry
        )
        self._parked = Counter(
            f"{PREFIX}_parked", "Items parked in a dead-letter queue, by the queue kind they came from.",
            ["queue_kind"], registry=registry,
        )

    def _define_histograms(self) -> None:
        registry = self.registry
        self._first_reply = Histogram(
            f"{PREFIX}_first_agent_reply_seconds", "From the handoff's start to the first agent message delivered.",
            ["desk"], buckets=FIRST_REPLY_BUCKETS, registry=registry,
        )
        self._queued = Histogram(
            f"{PREFIX}_queued_seconds", "From an item's queueing to its delivery.",
            ["direction"], buckets=QUEUE_BUCKETS, registry=registry,
        )
        self._delivery = Histogram(
            f"{PREFIX}_delivery_seconds", "One successful delivery call to the desk or to Rasa.",
            ["direction"], buckets=DELIVERY_BUCKETS, registry=registry,
        )
        for direction in QUEUE_DIRECTIONS:
            # Present from the start, so rate() and alerts see zeros rather than nothing.
            self._queued.labels(direction=direction)
            self._delivery.labels(direction=direction)

    # -- what the engine calls ------------------------------------------------------

    def handoff_started(self, desk: Label) -> None:
        self._started.labels(desk=_identifier(desk)).inc()

    def handoff_ended(self, desk: Label, reason: Label) -> None:
        self._ended.labels(desk=_identifier(desk), reason=_identifier(reason)).inc()

    def first_agent_reply(self, desk: Label, seconds: float) -> None:
        self._observe(self._first_reply.labels(desk=_identifier(desk)), seconds)

    def queued_for(self, direction: QueueDirection, seconds: float) -> None:
        self._observe(self._queued.labels(direction=_one_of(direction, QUEUE_DIRECTIONS)), seconds)

    def delivered(self, direction: QueueDirection, seconds: float) -> None:
        self._observe(self._delivery.labels(direction=_one_of(direction, QUEUE_DIRECTIONS)), seconds)

    def message(self, direction: MessageDirection, desk: Label) -> None:
        self._messages.labels(direction=_one_of(direction, MESSAGE_DIRECTIONS), desk=_identifier(desk)).inc()

    def desk_error(self, desk: Label, kind: DeskErrorKind) -> None:
        self._desk_errors.labels(desk=_identifier(desk), kind=_one_of(kind, DESK_ERROR_KINDS)).inc()

    def parked(self, queue: str) -> None:
        """One item parked; `queue` is the queue it came from (name or kind)."""
        self._parked.labels(queue_kind=queue_kind(queue)).inc()

    def desk_status(self, desk: Label, status: Label) -> None:
        """One-hot: the given status 1, the other two 0. Accepts ServiceStatus or None (not configured)."""
        current = _one_of(status or "not_configured", DESK_STATUSES)
        name = _identifier(desk)
        for each in DESK_STATUSES:
            self._desk_status.labels(desk=name, status=each).set(1 if each == current else 0)

    def set_depth_source(self, source: Optional[DepthSource]) -> None:
        """`source()` returns item counts keyed by queue name or kind; it must not block for long."""
        self._queues.source = source

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition of this object's registry, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    @staticmethod
    def _observe(histogram: Histogram, seconds: float) -> None:
        value = _seconds(seconds)
        if value is not None:
            histogram.observe(value)
