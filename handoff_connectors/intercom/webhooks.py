"""Intercom's webhook notifications: the signature, and reading a notification.

Intercom signs each notification with the app's client secret:
`X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>`. It checks an
endpoint with a HEAD request when one is saved, and sends `ping` on demand.
A notification is `{"type": "notification_event", "id": "notif_...",
"topic": "conversation.admin.replied", "data": {"item": <the conversation>}}`;
the conversation's `conversation_parts` holds the part(s) the topic is about.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Optional

from ..core.contract import WebhookRejected
from ..core.http import json_object

SIGNATURE_HEADER = "x-hub-signature"


def signature(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    """Raise WebhookRejected(401) unless the body carries the app's signature."""
    given = headers.get(SIGNATURE_HEADER, "").strip()
    if not given or not hmac.compare_digest(given.lower().encode(), signature(secret, body).encode()):
        raise WebhookRejected(401, "missing or wrong X-Hub-Signature")


@dataclass(frozen=True)
class Author:
    type: str
    id: Optional[str]
    name: Optional[str]
    email: Optional[str]


@dataclass(frozen=True)
class Part:
    """One conversation part (a message, a note, an assignment, a close...)."""

    id: str
    part_type: str
    body: Optional[str]
    author: Author
    attachments: tuple[dict[str, Any], ...] = ()
    assigned_to: Optional[dict[str, Any]] = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    id: str
    topic: str
    item: dict[str, Any]

    @property
    def conversation_id(self) -> Optional[str]:
        if self.item.get("type") != "conversation":
            return None
        value = self.item.get("id")
        return str(value) if value not in (None, "") else None

    def parts(self) -> list[Part]:
        holder = self.item.get("conversation_parts") or {}
        raw = holder.get("conversation_parts") if isinstance(holder, dict) else None
        return [_part(entry) for entry in raw or [] if isinstance(entry, dict)]

    def source(self) -> Optional[Part]:
        """The message that opened the conversation (the first user message)."""
        source = self.item.get("source") or self.item.get("conversation_message")
        if not isinstance(source, dict):
            return None
        return _part({**source, "part_type": "source"})

    def contact(self) -> dict[str, Any]:
        """The conversation's first contact, as much as the notification tells of it."""
        contacts = (self.item.get("contacts") or {}).get("contacts") or []
        first = contacts[0] if contacts and isinstance(contacts[0], dict) else {}
        legacy = self.item.get("user") if isinstance(self.item.get("user"), dict) else {}
        return {**legacy, **first}


def parse(body: bytes) -> Notification:
    payload = json_object(body)
    topic = payload.get("topic")
    if not isinstance(topic, str) or not topic:
        raise WebhookRejected(400, "topic: required")
    data = payload.get("data")
    item = data.get("item") if isinstance(data, dict) else None
    if not isinstance(item, dict):
        raise WebhookRejected(400, "data.item: required, an object")
    notification_id = payload.get("id")
    if topic != "ping" and (not isinstance(notification_id, str) or not notification_id):
        raise WebhookRejected(400, "id: required, the notification id")
    return Notification(id=notification_id or "", topic=topic, item=item)


def _part(entry: dict[str, Any]) -> Part:
    author = entry.get("author") if isinstance(entry.get("author"), dict) else {}
    attachments = entry.get("attachments") if isinstance(entry.get("attachments"), list) else []
    assigned = entry.get("assigned_to")
    metadata = entry.get("metadata")
    return Part(
        id=str(entry.get("id") or ""),
        part_type=str(entry.get("part_type") or ""),
        body=entry.get("body") if isinstance(entry.get("body"), str) else None,
        author=Author(
            type=str(author.get("type") or ""),
            id=str(author["id"]) if author.get("id") not in (None, "") else None,
            name=author.get("name") if isinstance(author.get("name"), str) and author.get("name") else None,
            email=author.get("email") if isinstance(author.get("email"), str) and author.get("email") else None,
        ),
        attachments=tuple(a for a in attachments if isinstance(a, dict)),
        assigned_to=assigned if isinstance(assigned, dict) else None,
        metadata=metadata if isinstance(metadata, dict) else {},
    )
