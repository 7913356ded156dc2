"""The sidecar's HTTP app (Sanic, which rasa-sdk already brings).

Routes: each connector's webhook paths, `GET /health` (the process is up),
`GET /ready` (the store and Rasa answer: route traffic here) and
`GET /metrics` (Prometheus). A webhook is verified by its connector before
anything else; a forged or malformed one is answered 4xx and reaches nobody.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from ..core.config import HandoffConfig
from ..core.contract import ServiceStatus, WebhookRejected, WebhookRequest
from ..core.http import TolerantErrorHandler
from ..core.handoffs import ASK_AVAILABILITY, TO_DESK, TO_RASA, HandoffService
from ..core.store import open_store
from ..core.text import repair_text
from ..registry import connector_class, create_service
from ..local.inbox import Inbox, attach_inbox
from ..observability.metrics import DepthSnapshot, Metrics
from ..observability.routes import attach_observability, ready_checks
from .pump import Pump

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

    @app.before_server_start
    async def open_resources(app: Sanic) -> None:
        service = app.ctx.service = create_service(config, open_store(config.store), with_rasa=True, metrics=metrics)
        app.ctx.depths = DepthSnapshot(service.store.depths)
        metrics.set_depth_source(app.ctx.depths)
        app.ctx.ready_http = httpx.AsyncClient()
        app.ctx.ready = ready_checks(service.store.ping, config.rasa.url, app.ctx.ready_http)
        connector = service.connector
        app.ctx.pump = Pump(
            service.store,
            [
                (TO_RASA, service.deliver_to_rasa),
                (TO_DESK, service.deliver_to_desk),
                (ASK_AVAILABILITY, service.answer_availability),
            ],
            config.sidecar.poll_interval,
            config.sidecar.max_retry_delay,
            before_each_look=service.fire_due_timers,
            max_concurrent=config.sidecar.max_concurrent_deliveries,
        )
        app.ctx.pump.start()
        app.ctx.status_watch = asyncio.get_running_loop().create_task(
            _recheck_while_unavailable(service, config.sidecar.status_check_interval)
        )
        # The credential check at start; desk calls keep the status current after.
        await service.check_status()
        # Desk-to-desk connectors do their share of the sidecar's work from here.
        await connector.attach_sidecar(service, config)
        if config.connector == "local":
            token = config.connectors.local.token
            if not token or not token.get_secret_value():
                logger.warning("connectors.local.token is not set: the agent inbox refuses everyone")
            app.ctx.inbox = Inbox(connector.desk, token.get_secret_value() if token else None, service.accept)

    @app.after_server_stop
    async def close_resources(app: Sanic) -> None:
        app.ctx.status_watch.cancel()
        await app.ctx.pump.stop()
        service: HandoffService = app.ctx.service
        await service.connector.aclose()
        await service.rasa.aclose()
        await app.ctx.ready_http.aclose()
        await service.store.close()

    async def health(request: Request) -> HTTPResponse:
        service: HandoffService = request.app.ctx.service
        status = await service.status()
        return json(
            {
                "status": "ok",
                "connector": config.connector,
                "service": status.value if status else ServiceStatus.NOT_CONFIGURED.value,
            }
        )

    async def webhook(request: Request) -> HTTPResponse:
        service: HandoffService = request.app.ctx.service
        inbound = WebhookRequest(
            method=request.method,
            path=request.path,
            # Repaired, so a credential check never meets a byte it cannot encode.
            headers={repair_text(key.lower()): repair_text(value) for key, value in request.headers.items()},
            body=request.body or b"",
        )
        try:
            reply = await service.connector.parse_webhook(inbound)
        except WebhookRejected as rejected:
            logger.warning("Rejected %s %s: %s", request.method, request.path, rejected.reason)
            return json({"code": rejected.status, "message": rejected.reason}, status=rejected.status)
        except Exception:
            # A call no parser expected is the caller's fault until shown otherwise: 400, never 500.
            logger.exception("Could not read %s %s; answered 400", request.method, request.path)
            return json({"code": 400, "message": "the call could not be read"}, status=400)
        try:
            owned = [await service.accept(event) is not None for event in reply.events]
        except Exception:
            # The store failed: the desk keeps the event and tries again.
            logger.exception("Could not queue the events of %s %s; answered 503", request.method, request.path)
            return json({"code": 503, "message": "try again later"}, status=503)
        if reply.events and not any(owned):
            # Every event is for a conversation with no live handoff: the desk can stop retrying.
            return json({"code": 404, "message": "no active handoff for this conversation"}, status=404)
        return json(reply.body, status=reply.status)

    app.add_route(health, "/health", methods=["GET"], name="health")
    attach_observability(
        app, metrics, ready_check=lambda: app.ctx.ready(), before_scrape=lambda: app.ctx.depths.refresh()
    )
    if config.connector == "local":
        attach_inbox(app, lambda: app.ctx.inbox)
    if demo_chat:
        from ..demo.chat import attach_demo_chat

        attach_demo_chat(app, config.rasa.url)
    for index, (method, path) in enumerate(connector_class(config).webhook_routes):
        app.add_route(webhook, path, methods=[method], name=f"webhook_{index}")
    return app
