"""The sidecar's HTTP app (Sanic, which rasa-sdk already brings).

Routes: the desk's webhook paths and its own routes (if it has any),
`GET /health` (the process is up), `GET /doctor/probe` (for
`rasa-handoff doctor`: is this the same store?), `GET /ready` (the store and Rasa answer:
route traffic here) and `GET /metrics` (Prometheus). Besides serving, it
runs the core's delivery pump and, for desks read from streams or polls,
their event sources. It knows no desk by name: what it serves and runs
follows from the parts the configured connector implements.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from sanic import Request, Sanic

from ..core.config import HandoffConfig
from ..core.contract import HasEventSources, ServesRoutes, ServiceStatus, TakesWebhooks
from ..core.handoffs import HandoffService
from ..core.http import TolerantErrorHandler
from ..core.pump import Pump
from ..core.sources import SourceRunner
from ..core.store import open_store
from ..onboarding.probe import read_probe
from ..observability.metrics import DepthSnapshot, Metrics
from ..observability.routes import attach_observability, ready_checks
from ..registry import connector_class, create_service
from .webhooks import ServiceHost, attach_webhooks, reply

logger = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 4 * 1024 * 1024


async def _recheck_while_unavailable(service: HandoffService, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            if await service.status() is ServiceStatus.UNAVAILABLE:
                await service.check_status()
        except Exception:
            logger.exception("Checking the desk's status failed")


def create_app(config: HandoffConfig, name: str = "rasa_handoff_sidecar", demo_chat: bool = False) -> Sanic:
    # An Accept header Sanic cannot parse must not turn its own 404/405/413 pages into 500s.
    app = Sanic(name, error_handler=TolerantErrorHandler())
    app.config.FALLBACK_ERROR_FORMAT = "json"
    # Webhooks are small; a body past this is refused with 413 before it is read.
    app.config.REQUEST_MAX_SIZE = MAX_WEBHOOK_BYTES
    metrics = Metrics()
    # The desk's own routes are added now (Sanic fixes its routes before starting);
    # they reach the service through the host once it exists.
    host = ServiceHost()

    @app.before_server_start
    async def open_resources(app: Sanic) -> None:
        service = app.ctx.service = create_service(config, open_store(config.store), with_rasa=True, metrics=metrics)
        host.bind(service)
        app.ctx.depths = DepthSnapshot(service.store.depths)
        metrics.set_depth_source(app.ctx.depths)
        app.ctx.ready_http = httpx.AsyncClient()
        app.ctx.ready = ready_checks(service.store.ping, config.rasa.url, app.ctx.ready_http)
        app.ctx.pump = Pump(
            service.store,
            service.queues(),
            config.sidecar.poll_interval,
            config.sidecar.max_retry_delay,
            before_each_look=service.fire_due_timers,
            max_concurrent=config.sidecar.max_concurrent_deliveries,
        )
        app.ctx.pump.start()
        app.ctx.sources = None
        if isinstance(service.connector, HasEventSources):
            app.ctx.sources = SourceRunner(
                service.store, service.connector, service.records, service.accept,
                max_retry_delay=config.sidecar.max_retry_delay,
            )
            app.ctx.sources.start()
        app.ctx.status_watch = asyncio.get_running_loop().create_task(
            _recheck_while_unavailable(service, config.sidecar.status_check_interval)
        )
        # The credential check at start; desk calls keep the status current after.
        await service.check_status()

    @app.after_server_stop
    async def close_resources(app: Sanic) -> None:
        app.ctx.status_watch.cancel()
        if app.ctx.sources is not None:
            await app.ctx.sources.stop()
        await app.ctx.pump.stop()
        service: HandoffService = app.ctx.service
        await service.aclose()
        await service.connector.aclose()
        await service.rasa.aclose()
        await app.ctx.ready_http.aclose()
        await service.store.close()

    async def health(request: Request):
        service: HandoffService = request.app.ctx.service
        status = await service.status()
        return reply(
            200,
            {
                "status": "ok",
                "connector": config.connector,
                "service": status.value if status else ServiceStatus.NOT_CONFIGURED.value,
            },
        )

    async def doctor_probe(request: Request):
        # For `rasa-handoff doctor`: the probe it wrote, as read from this sidecar's store.
        return reply(200, {"store_probe": await read_probe(request.app.ctx.service.store), "connector": config.connector})

    app.add_route(health, "/health", methods=["GET"], name="health")
    app.add_route(doctor_probe, "/doctor/probe", methods=["GET"], name="doctor_probe")
    attach_observability(
        app, metrics, ready_check=lambda: app.ctx.ready(), before_scrape=lambda: app.ctx.depths.refresh()
    )
    if demo_chat:
        from ..demo.chat import attach_demo_chat

        attach_demo_chat(app, config.rasa.url)
    _attach_desk_routes(app, config, host)
    return app


def _attach_desk_routes(app: Sanic, config: HandoffConfig, host: ServiceHost) -> None:
    """The routes the configured desk needs, from the parts it implements."""
    desk = connector_class(config.connector)
    if issubclass(desk, TakesWebhooks):
        attach_webhooks(app, desk.webhook_routes, host, config.sidecar.public_url)
    if issubclass(desk, ServesRoutes):
        desk.attach_routes(app, host)

