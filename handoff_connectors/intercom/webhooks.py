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
    """The notification in `body`; a 400 naming the field when something the connector reads is off.

    Every field read later is checked here, once, so a wrong type is the
    caller's 400 with the field's name instead of an error deep in the code.
    """
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
    if item.get("type") == "conversation":
        _check_conversation(item, "data.item")
    return Notification(id=notification_id or "", topic=topic, item=item)


# -- the shape of what the connector reads --------------------------------------------------

_TEXT = "a string"
_ID = "a string or an integer"
_OBJECT = "an object"
_LIST = "a list"
_TYPES: dict[str, tuple[type, ...]] = {_TEXT: (str,), _ID: (str, int), _OBJECT: (dict,), _LIST: (list,)}


def _field(container: dict[str, Any], key: str, where: str, kind: str) -> Any:
    """`container[key]` (None when absent or null); a 400 naming `where.key` unless it is `kind`."""
    value = container.get(key)
    # bool is an int to Python, never an id to Intercom.
    if value is not None and (isinstance(value, bool) or not isinstance(value, _TYPES[kind])):
        raise WebhookRejected(400, f"{where}.{key}: must be {kind} or null")
    return value


def _objects(container: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    """The list of objects at `container[key]` (empty when absent); a 400 naming the field otherwise."""
    entries = _field(container, key, where, _LIST) or []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise WebhookRejected(400, f"{where}.{key}[{index}]: must be an object")
    return entries


def _check_fields(container: dict[str, Any], where: str, texts: tuple[str, ...], ids: tuple[str, ...] = ()) -> None:
    """The `texts` of `container` are strings and its `ids` strings or integers (or absent, or null)."""
    for key in texts:
        _field(container, key, where, _TEXT)
    for key in ids:
        _field(container, key, where, _ID)


def _check_conversation(item: dict[str, Any], where: str) -> None:
    """What `Notification` and the connector read of a conversation: its id, parts, source, contacts, teammates."""
    _field(item, "id", where, _ID)
    parts = _field(item, "conversation_parts", where, _OBJECT) or {}
    for index, entry in enumerate(_objects(parts, "conversation_parts", f"{where}.conversation_parts")):
        _check_part(entry, f"{where}.conversation_parts.conversation_parts[{index}]")
    for key in ("source", "conversation_message"):
        source = _field(item, key, where, _OBJECT)
        if source is not None:
            _check_part(source, f"{where}.{key}")
    contacts = _field(item, "contacts", where, _OBJECT) or {}
    for index, contact in enumerate(_objects(contacts, "contacts", f"{where}.contacts")):
        _check_fields(contact, f"{where}.contacts.contacts[{index}]", ("email",), ("id",))
    user = _field(item, "user", where, _OBJECT) or {}
    _check_fields(user, f"{where}.user", ("email",), ("id",))
    teammates = _field(item, "teammates", where, _OBJECT) or {}
    for index, admin in enumerate(_objects(teammates, "admins", f"{where}.teammates")):
        _check_fields(admin, f"{where}.teammates.admins[{index}]", ("name",), ("id",))


def _check_part(entry: dict[str, Any], where: str) -> None:
    """What `_part` and the connector read of a conversation part."""
    _check_fields(entry, where, ("part_type", "body"), ("id",))
    author = _field(entry, "author", where, _OBJECT) or {}
    _check_fields(author, f"{where}.author", ("type", "name", "email"), ("id",))
    for index, attachment in enumerate(_objects(entry, "attachments", where)):
        _check_fields(attachment, f"{where}.attachments[{index}]", ("url", "name", "content_type"))
    assigned = _field(entry, "assigned_to", where, _OBJECT) or {}
    _check_fields(assigned, f"{where}.assigned_to", ("type", "name"), ("id",))
    metadata = _field(entry, "metadata", where, _OBJECT) or {}
    _check_fields(metadata, f"{where}.metadata", ("quick_reply_uuid",))


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
