"""Inbound desk calls: from Sanic's request to the connector's verify-and-parse step, and back.

A call is verified by its connector before anything else; a forged or
malformed one is answered 4xx and reaches nobody, and no input, however
hostile, is answered 5xx unless the store itself failed (then 503, so the
desk keeps the event and tries again).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Optional, Sequence
from urllib.parse import parse_qs, urlsplit

from sanic import Request
from sanic.response import HTTPResponse, raw

from ..core.contract import Connector, DeskEvent, HttpReply, WebhookRejected, WebhookRequest
from ..core.handoffs import HandoffService
from ..core.store import Store
from ..core.text import repair_text

logger = logging.getLogger(__name__)

_FORM = "application/x-www-form-urlencoded"


class ServiceHost:
    """What a desk's routes reach in the running sidecar (the contract's `DeskHost`)."""

    def __init__(self) -> None:
        self._service: Optional[HandoffService] = None

    def bind(self, service: HandoffService) -> None:
        self._service = service

    @property
    def service(self) -> HandoffService:
        if self._service is None:
            raise RuntimeError("the sidecar has not started yet")
        return self._service

    @property
    def connector(self) -> Connector:
        return self.service.connector

    @property
    def store(self) -> Store:
        return self.service.store

    async def accept(self, event: DeskEvent) -> bool:
        return await self.service.accept(event)


def reply(status: int, body: Any = None, headers: Optional[dict] = None) -> HTTPResponse:
    return to_response(HttpReply(status, body, headers or {}))


def to_response(answer: HttpReply) -> HTTPResponse:
    body, content_type = answer.body, "text/plain; charset=utf-8"
    if isinstance(body, (dict, list)):
        body, content_type = json.dumps(body), "application/json"
    elif body is None:
        body = b""
    return raw(body, status=answer.status, headers=dict(answer.headers), content_type=content_type)


def inbound(request: Request, public_url: Optional[str]) -> WebhookRequest:
    """The call as the desk made it: full URL, query and form fields, raw body."""
    headers = {repair_text(key.lower()): repair_text(value) for key, value in request.headers.items()}
    query_string = repair_text(request.query_string or "")
    body = request.body or b""
    form: dict[str, list[str]] = {}
    if headers.get("content-type", "").split(";")[0].strip().lower() == _FORM:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return WebhookRequest(
        method=request.method,
        path=request.path,
        # Repaired, so a credential check never meets a byte it cannot encode.
        headers=headers,
        body=body,
        url=_url_as_called(request, headers, query_string, public_url),
        query=parse_qs(query_string, keep_blank_values=True),
        form=form,
    )


def _url_as_called(request: Request, headers: dict[str, str], query: str, public_url: Optional[str]) -> str:
    if public_url:
        base = public_url.rstrip("/")
    else:
        # Behind a proxy the desk called the proxy's scheme and host, which it passes on.
        scheme = headers.get("x-forwarded-proto", "").split(",")[0].strip() or request.scheme
        host = headers.get("x-forwarded-host", "").split(",")[0].strip() or headers.get("host", "")
        base = f"{scheme}://{host}"
    url = base + (urlsplit(request.path).path or "/")
    return f"{url}?{query}" if query else url


def attach_webhooks(app, routes: Sequence[tuple[str, str]], host: ServiceHost, public_url: Optional[str]) -> None:
    async def webhook(request: Request) -> HTTPResponse:
        service = host.service
        try:
            parsed = await service.connector.parse_webhook(inbound(request, public_url))  # type: ignore[attr-defined]
        except WebhookRejected as rejected:
            logger.warning("Rejected %s %s: %s", request.method, request.path, rejected.reason)
            return reply(rejected.status, {"code": rejected.status, "message": rejected.reason})
        except Exception:
            # A call no parser expected is the caller's fault until shown otherwise: 400, never 500.
            logger.exception("Could not read %s %s; answered 400", request.method, request.path)
            return reply(400, {"code": 400, "message": "the call could not be read"})
        try:
            owned = [await service.accept(event) for event in parsed.events]
        except Exception:
            # The store failed: the desk keeps the event and tries again.
            logger.exception("Could not queue the events of %s %s; answered 503", request.method, request.path)
            return reply(503, {"code": 503, "message": "try again later"})
        if parsed.events and not any(owned) and parsed.when_unknown is not None:
            return to_response(parsed.when_unknown)
        return to_response(parsed.reply)

    for index, (method, path) in enumerate(routes):
        app.add_route(webhook, path, methods=[method], name=f"webhook_{index}")
