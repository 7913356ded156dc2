"""The routes the sidecar serves for CXone: its token endpoint, the agents' replies, the case's events.

- `POST /nice-cxone/oauth/token`: client credentials (JSON, a form or HTTP
  Basic) -> a short-lived bearer token, kept in the store (`bearer`). Wrong
  credentials: 401 `invalid_client`; a grant other than client_credentials:
  400 `unsupported_grant_type`; a missing field: 400 `invalid_request` naming it.
- the reply routes and the events route (`wire`): without a live bearer
  token 401 (`WWW-Authenticate: Bearer`), which is CXone's cue to fetch a
  new one, and nothing reaches anybody; malformed: 400 naming the field;
  otherwise the events go to `host.accept`, once by their id. A reply is
  answered `{"idOnExternalPlatform": ...}`, the same for a redelivery and for
  a thread that is no handoff of ours (so CXone stops retrying); never a 5xx
  unless the store failed (503, so CXone tries again).
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from sanic import Request
from sanic.response import HTTPResponse

from ..core.contract import DeskHost, HttpReply, WebhookRejected, WebhookReply, WebhookRequest
from ..sidecar.webhooks import inbound, reply, to_response
from . import wire

logger = logging.getLogger(__name__)

_UNAUTHORISED = HttpReply(
    401, {"error": "invalid_token", "error_description": "a bearer token from the token endpoint is needed"},
    {"WWW-Authenticate": 'Bearer error="invalid_token"'},
)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def read(call: WebhookRequest) -> WebhookReply:
    """What a (verified) call from CXone carries, and its answer; WebhookRejected(400) when malformed."""
    if wire.is_reply_path(call.path):
        message = wire.read_reply(call.path, call.body)
        return WebhookReply(events=[message], reply=HttpReply(200, wire.reply_answer(message.event_id)))
    if call.path == wire.EVENTS_PATH:
        return WebhookReply(events=list(wire.read_event(call.body)), reply=HttpReply(200, {"status": "ok"}))
    raise WebhookRejected(404, "no such route")


def attach(app: Any, host: DeskHost) -> None:
    """Add the token endpoint, the reply routes and the events route to the sidecar's app."""

    def bearers():
        return host.connector.bearers  # type: ignore[attr-defined]

    async def token(request: Request) -> HTTPResponse:
        call = inbound(request, None)
        try:
            client_id, client_secret, grant = wire.read_token_request(call.headers, call.body)
        except WebhookRejected as rejected:
            return reply(400, {"error": "invalid_request", "error_description": rejected.reason}, _NO_STORE)
        if grant != "client_credentials":
            return reply(400, {"error": "unsupported_grant_type"}, _NO_STORE)
        issuer = bearers()
        if not issuer.client_matches(client_id, client_secret):
            logger.warning("Refused a token request from CXone: wrong client id or secret")
            return reply(401, {"error": "invalid_client"}, {**_NO_STORE, "WWW-Authenticate": "Basic"})
        try:
            issued = await issuer.issue()
        except Exception:
            logger.exception("Could not keep a token for CXone; answered 503")
            return reply(503, {"error": "temporarily_unavailable"}, _NO_STORE)
        return reply(200, wire.token_answer(issued, issuer.ttl), _NO_STORE)

    def guarded(handle: Callable[[WebhookRequest], Awaitable[HTTPResponse]]):
        async def route(request: Request, **_ids: str) -> HTTPResponse:
            call = inbound(request, None)
            try:
                allowed = await bearers().accepts(call.headers.get("authorization"))
            except Exception:
                logger.exception("Could not check CXone's bearer token; answered 503")
                return reply(503, {"error": "temporarily_unavailable"})
            if not allowed:
                logger.warning("Refused %s %s: no live bearer token", request.method, request.path)
                return to_response(_UNAUTHORISED)
            return await handle(call)

        route.__name__ = f"nice_cxone_{handle.__name__}"
        return route

    async def deliver(call: WebhookRequest) -> HTTPResponse:
        try:
            parsed = read(call)
        except WebhookRejected as rejected:
            logger.warning("Rejected %s %s: %s", call.method, call.path, rejected.reason)
            return reply(rejected.status, {"error": "invalid_request", "error_description": rejected.reason})
        except Exception:
            logger.exception("Could not read %s %s; answered 400", call.method, call.path)
            return reply(400, {"error": "invalid_request", "error_description": "the call could not be read"})
        try:
            for event in parsed.events:
                await host.accept(event)
        except Exception:
            logger.exception("Could not queue the events of %s %s; answered 503", call.method, call.path)
            return reply(503, {"error": "temporarily_unavailable"})
        return to_response(parsed.reply)

    app.add_route(token, wire.TOKEN_PATH, methods=["POST"], name="nice_cxone_token")
    app.add_route(guarded(deliver), wire.POST_REPLY_ROUTE, methods=["POST"], name="nice_cxone_post_reply")
    app.add_route(guarded(deliver), wire.OUTBOUND_REPLY_ROUTE, methods=["POST"], name="nice_cxone_outbound_reply")
    app.add_route(guarded(deliver), wire.EVENTS_PATH, methods=["POST"], name="nice_cxone_events")
