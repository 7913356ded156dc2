"""Reading SalesIQ's calls: data webhooks (conversation events) and the Zobot webhook.

A data webhook call is an envelope `{"entity_type": "conversation", "event":
"conversation.operator.replied", "entity_id", "org_id", "app_id", "attempt",
"version", "entity": {...the conversation...}}`. A Zobot webhook call is
`{"handler": "trigger" | "message" | "context", "operation": "chat" |
"message", "visitor": {...}, "message": {"text"}, "attachments": [...],
"request": {...}, "org_id"}`. Every field read later is checked here, once,
so a wrong type is a 400 naming the field, never an error further on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Optional

from ..core.contract import Attachment, WebhookRejected
from ..core.http import json_object


def _field(container: dict[str, Any], key: str, where: str, kinds: tuple[type, ...], what: str) -> Any:
    value = container.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
        raise WebhookRejected(400, f"{where}{key}: must be {what}")
    return value


def _text(container: dict[str, Any], key: str, where: str) -> Optional[str]:
    return _field(container, key, where, (str,), "a string")


def _id(container: dict[str, Any], key: str, where: str) -> Optional[str]:
    value = _field(container, key, where, (str, int), "a string or an integer")
    return None if value in (None, "") else str(value)


def _object(container: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    return _field(container, key, where, (dict,), "an object") or {}


@dataclass(frozen=True)
class Person:
    id: Optional[str]
    name: Optional[str]
    email: Optional[str]


def _person(container: dict[str, Any], key: str, where: str) -> Optional[Person]:
    found = _field(container, key, where, (dict,), "an object")
    if not found:
        return None
    inner = f"{where}{key}."
    return Person(_id(found, "id", inner), _text(found, "name", inner) or None, _text(found, "email_id", inner) or None)


def attachments(container: dict[str, Any], key: str, where: str) -> tuple[Attachment, ...]:
    """Files as SalesIQ lists them: `{url, name, type}` objects (or bare URLs)."""
    found = _field(container, key, where, (list,), "a list") or []
    files = []
    for index, entry in enumerate(found):
        inner = f"{where}{key}[{index}]"
        if isinstance(entry, str) and entry:
            files.append(Attachment(entry))
            continue
        if not isinstance(entry, dict):
            raise WebhookRejected(400, f"{inner}: must be an object or a URL")
        url = _text(entry, "url", inner + ".")
        if not url:
            raise WebhookRejected(400, f"{inner}.url: required")
        kind = _text(entry, "type", inner + ".") or _text(entry, "content_type", inner + ".")
        files.append(Attachment(url, _text(entry, "name", inner + ".") or None, kind or None))
    return tuple(files)


# -- data webhooks ------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    id: Optional[str]
    text: str
    sender: Optional[Person]
    files: tuple[Attachment, ...]


@dataclass(frozen=True)
class Event:
    name: str
    conversation_id: str
    entity: dict[str, Any]
    owner: Optional[Person]
    message: Optional[Message]
    digest: str

    def moment(self, *keys: str) -> str:
        """The first of the entity's times (epoch ms strings) that is there: what tells two events apart."""
        for key in keys:
            value = self.entity.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
                return str(value)
        return self.digest


def parse_event(body: bytes) -> Event:
    payload = json_object(body)
    name = _text(payload, "event", "")
    if not name:
        raise WebhookRejected(400, "event: required")
    entity = payload.get("entity")
    if not isinstance(entity, dict):
        raise WebhookRejected(400, "entity: required, an object")
    conversation_id = _id(entity, "id", "entity.") or _id(payload, "entity_id", "")
    if name.startswith("conversation.") and conversation_id is None:
        raise WebhookRejected(400, "entity.id: required, the conversation id")
    owner = _person(entity, "attender", "entity.") or _person(entity, "owner", "entity.")
    message = None
    if name == "conversation.operator.replied":
        found = entity.get("message")
        if not isinstance(found, dict):
            raise WebhookRejected(400, "entity.message: required, an object")
        text = _text(found, "text", "entity.message.")
        files = attachments(found, "attachments", "entity.message.")
        if text is None and not files:
            raise WebhookRejected(400, "entity.message.text: required")
        message = Message(_id(found, "id", "entity.message."), text or "", _person(found, "sender", "entity.message."), files)
    return Event(name, conversation_id or "", entity, owner, message, hashlib.sha256(body).hexdigest()[:32])


# -- the Zobot webhook ------------------------------------------------------------------------


@dataclass(frozen=True)
class ZobotCall:
    handler: str
    conversation_id: Optional[str]
    text: str
    files: tuple[Attachment, ...]
    visitor: dict[str, Any]
    message_id: str


def parse_zobot(body: bytes) -> ZobotCall:
    payload = json_object(body)
    handler = _text(payload, "handler", "")
    if not handler:
        raise WebhookRejected(400, "handler: required")
    visitor = _object(payload, "visitor", "")
    for key in ("name", "email"):
        _text(visitor, key, "visitor.")
    conversation_id = _id(visitor, "active_conversation_id", "visitor.")
    message = _object(payload, "message", "")
    request = _object(payload, "request", "")
    text = _text(message, "text", "message.") or ""
    files = attachments(payload, "attachments", "")
    if handler == "message" and conversation_id is None:
        raise WebhookRejected(400, "visitor.active_conversation_id: required for a message")
    # The Zobot call has no documented message id: one it names is used, else the body's digest
    # (a redelivery is the same body).
    message_id = _id(message, "id", "message.") or _id(request, "id", "request.") or hashlib.sha256(body).hexdigest()[:32]
    return ZobotCall(handler, conversation_id, text, files, visitor, message_id)
