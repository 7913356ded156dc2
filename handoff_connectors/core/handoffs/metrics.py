"""What the handoff service reports as it works (the sidecar's Prometheus metrics implement it)."""

from __future__ import annotations

import time
from typing import Protocol


class Metrics(Protocol):
    def handoff_started(self, desk: str) -> None: ...
    def handoff_ended(self, desk: str, reason: str) -> None: ...
    def first_agent_reply(self, desk: str, seconds: float) -> None: ...
    def queued_for(self, direction: str, seconds: float) -> None: ...
    def message(self, direction: str, desk: str) -> None: ...
    def delivered(self, direction: str, seconds: float) -> None: ...
    def desk_error(self, desk: str, kind: str) -> None: ...
    def desk_status(self, desk: str, status: str) -> None: ...
    def parked(self, queue: str) -> None: ...


class _NoMetrics:
    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


NO_METRICS: Metrics = _NoMetrics()  # type: ignore[assignment]


def observe_queue_time(metrics: Metrics, direction: str, item: dict) -> None:
    queued_at = item.get("queued_at")
    if isinstance(queued_at, (int, float)):
        metrics.queued_for(direction, max(0.0, time.time() - queued_at))
