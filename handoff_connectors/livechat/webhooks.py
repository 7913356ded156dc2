"""LiveChat's webhooks (v3.5): verified by their `secret_key`, read into plain values.

Every webhook is a JSON object `{webhook_id, secret_key, action,
organization_id, payload, additional_data}`. The `secret_key` is the one
set on the app's webhooks in the Developer Console: a call without it, or
with another, is refused 401 and read no further; so is one for another
organization. A malformed call is refused 400 naming the field.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Optional

from ..core.contract import WebhookRejected
from ..core.http import json_object


@dataclass(frozen=True)
class Webhook:
    action: str
    payload: dict[str, Any]

    def text(self, name: str, required: bool = True) -> Optional[str]:
        value = self.payload.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
        if required:
            raise WebhookRejected(400, f"payload.{name}: missing or not a string")
        return None

    def object(self, name: str) -> dict[str, Any]:
        value = self.payload.get(name)
        if not isinstance(value, dict):
            raise WebhookRejected(400, f"payload.{name}: missing or not an object")
        return value


def verified(body: bytes, secret: str, organization_id: str) -> Webhook:
    """The webhook, once its secret_key is the configured one; WebhookRejected otherwise."""
    data = json_object(body)
    given = data.get("secret_key")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), secret.encode()):
        raise WebhookRejected(401, "missing or wrong secret_key")
    if str(data.get("organization_id") or "") != organization_id:
        raise WebhookRejected(401, "organization_id is not this organization's")
    action = data.get("action")
    if not isinstance(action, str) or not action:
        raise WebhookRejected(400, "action: missing or not a string")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "payload: missing or not an object")
    return Webhook(action, payload)


def event_of(webhook: Webhook) -> dict[str, Any]:
    """The `event` of an incoming_event, with the fields every event has."""
    event = webhook.object("event")
    for name in ("id", "type"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise WebhookRejected(400, f"payload.event.{name}: missing or not a string")
    return event


def files_of(event: dict[str, Any]) -> Optional[str]:
    """A file event's URL (LiveChat's permanent one), if it has one."""
    url = event.get("url")
    return url if event.get("type") == "file" and isinstance(url, str) and url.startswith(("http://", "https://")) else None
