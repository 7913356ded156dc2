"""The sidecar's own HTTP handling, served in the test's event loop around one connector.

The routes are the real ones (`sidecar.webhooks.attach_webhooks` for a desk
that `TakesWebhooks`, the desk's `attach_routes` for one that `ServesRoutes`),
over a real `HandoffService` on a real store; only Rasa is left out, so what
a call queued for the Rasa conversation stays in the store to be looked at.
Handoffs are opened the way the actions open them and delivered to the desk
the way the sidecar's pump does.
"""

from __future__ import annotations

import itertools
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator

from sanic import Sanic
from sanic.response import json

from ..core.contract import CloseReason, Connector, ServesRoutes, Speaker, TakesWebhooks, Turn
from ..core.handoffs import TO_DESK, TO_RASA, Handoff, HandoffService
from ..core.http import TolerantErrorHandler
from ..core.store import Store
from ..rasa_runtime.processes import free_port
from ..sidecar.webhooks import ServiceHost, attach_webhooks

_apps = itertools.count()


@dataclass
class ServedSidecar:
    url: str
    service: HandoffService
    store: Store

    async def open_handoff(self, sender_id: str | None = None, text: str = "I want to talk to a human") -> Handoff:
        """A handoff opened as the actions open it and started in the desk; raises if the desk did not take it."""
        sender_id = sender_id or f"user-{uuid.uuid4().hex[:10]}"
        transcript = (Turn(Speaker.USER, "hello"), Turn(Speaker.BOT, "Hi! How can I help?"))
        handoff = await self.service.open(sender_id, "ana@example.com", "en", transcript, text)
        await self.deliver_to_desk(handoff)
        record = await self.service.record(handoff.handoff_id)
        if record is None or record.desk_conversation_id is None:
            raise AssertionError(f"the desk did not take the handoff; still queued: {await self.to_desk(handoff)}")
        return record

    async def relay(self, handoff: Handoff, text: str) -> None:
        await self.service.relay(handoff, text)
        await self.deliver_to_desk(handoff)

    async def finish(self, handoff: Handoff, reason: CloseReason) -> None:
        await self.service.finish(handoff, reason)
        await self.deliver_to_desk(handoff)

    async def deliver_to_desk(self, handoff: Handoff) -> None:
        await self.service.deliver_to_desk(TO_DESK + handoff.handoff_id)

    async def to_desk(self, handoff: Handoff) -> list[dict]:
        return await self.store.items(TO_DESK + handoff.handoff_id)

    async def queued_for_rasa(self, sender_id: str) -> list[dict]:
        """What calls queued for the user's Rasa conversation (delivered by the pump in a real sidecar)."""
        return await self.store.items(TO_RASA + sender_id)


def sidecar_app(connector: Connector, host: ServiceHost) -> Sanic:
    app = Sanic(f"handoff_kit_{next(_apps)}_{uuid.uuid4().hex[:6]}", error_handler=TolerantErrorHandler(), configure_logging=False)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    # Sanic rewrites its request handler at an app's first start; a second app in the process must not.
    app.config.TOUCHUP = False
    app.config.MOTD = False
    desk = type(connector)

    async def health(request):
        return json({"status": "ok"})

    # As on the real sidecar; and a desk read only from streams or polls has no route of its own.
    app.add_route(health, "/health", methods=["GET"], name="health")
    if isinstance(connector, TakesWebhooks):
        attach_webhooks(app, desk.webhook_routes, host, None)
    if isinstance(connector, ServesRoutes):
        desk.attach_routes(app, host)
    return app


@asynccontextmanager
async def served_sidecar(connector: Connector, store: Store) -> AsyncIterator[ServedSidecar]:
    """The sidecar's routes for `connector` on a free loopback port, while the block runs."""
    service = HandoffService(store, connector)
    host = ServiceHost()
    host.bind(service)
    app = sidecar_app(connector, host)
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield ServedSidecar(f"http://127.0.0.1:{port}", service, store)
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        await service.aclose()
