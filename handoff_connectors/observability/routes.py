"""`GET /metrics` and `GET /ready` on a Sanic app (the sidecar's, or the action server's).

Why `/ready` apart from `/health`: `/health` says the process is up; `/ready`
says it can do its job right now, so a load balancer or Kubernetes sends it
traffic only then. Here that means the store answers and Rasa answers. Each
check is bounded in time (a hung dependency must make the probe fail, not
hang), and the answer says which check failed and why, in words that went
through the log redaction, so a probe's body never carries a secret.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping, Optional

import httpx
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json, raw

from .logs import redact
from .metrics import Metrics

logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0
MAX_DETAIL = 200


@dataclass(frozen=True)
class Check:
    """One readiness check's outcome; `detail` says why it failed (never a secret)."""

    ok: bool
    detail: str = ""

    def as_json(self) -> dict[str, object]:
        return {"ok": True} if self.ok else {"ok": False, "detail": self.detail}


ReadyCheck = Callable[[], Awaitable[Mapping[str, Check]]]
StorePing = Callable[[], Awaitable[object]]
BeforeScrape = Callable[[], Awaitable[None]]


def _failure(error: BaseException, timeout: float = CHECK_TIMEOUT) -> Check:
    if isinstance(error, (asyncio.TimeoutError, httpx.TimeoutException)):
        return Check(False, f"no answer within {timeout:g} s")
    reason = redact(str(error))[:MAX_DETAIL]
    return Check(False, f"{type(error).__name__}: {reason}" if reason else type(error).__name__)


async def _bounded(check: Callable[[], Awaitable[Check]], timeout: float) -> Check:
    try:
        return await asyncio.wait_for(check(), timeout)
    except Exception as error:
        return _failure(error, timeout)


def ready_checks(
    store_ping: StorePing, rasa_url: str, http_client: httpx.AsyncClient, timeout: float = CHECK_TIMEOUT
) -> ReadyCheck:
    """A ready check: the store answers `store_ping()`, Rasa answers `GET {rasa_url}/` below 500.

    The caller owns `http_client` (and closes it). Both checks run at once, each within `timeout`.
    """
    root = rasa_url.rstrip("/") + "/"

    async def store() -> Check:
        await store_ping()
        return Check(True)

    async def rasa() -> Check:
        response = await http_client.get(root, timeout=timeout)
        if response.status_code >= 500:
            return Check(False, f"Rasa answered {response.status_code}")
        return Check(True)

    async def check() -> Mapping[str, Check]:
        results = await asyncio.gather(_bounded(store, timeout), _bounded(rasa, timeout))
        return {"store": results[0], "rasa": results[1]}

    return check


async def _run_ready_check(ready_check: ReadyCheck) -> dict[str, Check]:
    try:
        return dict(await ready_check())
    except Exception as error:
        return {"ready_check": _failure(error)}


async def _refresh(before_scrape: Optional[BeforeScrape]) -> None:
    if before_scrape is None:
        return
    try:
        await before_scrape()
    except Exception as error:
        # The scrape still answers, with the last snapshot; the counters matter more.
        logger.warning("Refreshing the metrics snapshot failed: %s", type(error).__name__)


def attach_observability(
    app: Sanic,
    metrics: Metrics,
    ready_check: ReadyCheck,
    before_scrape: Optional[BeforeScrape] = None,
) -> None:
    """Add `GET /metrics` and `GET /ready` to `app`.

    `before_scrape`, when given, is awaited before each /metrics render: the place to refresh
    the snapshot `metrics.set_depth_source` reads (the store is async, the collector is not).
    """

    async def metrics_route(request: Request) -> HTTPResponse:
        await _refresh(before_scrape)
        body, content_type = metrics.render()
        return raw(body, content_type=content_type)

    async def ready_route(request: Request) -> HTTPResponse:
        checks = await _run_ready_check(ready_check)
        ready = bool(checks) and all(check.ok for check in checks.values())
        body = {"ready": ready, "checks": {name: check.as_json() for name, check in checks.items()}}
        return json(body, status=200 if ready else 503)

    app.add_route(metrics_route, "/metrics", methods=["GET"], name="observability_metrics")
    app.add_route(ready_route, "/ready", methods=["GET"], name="observability_ready")
